// sisopi-api's web page: log in (token kept in memory only), choose school and role, dry run
// an export, start it, follow it to its outcome, download its files, list recent imports.
// Plain DOM and fetch, no framework, no eval, no inline code (the page runs under a strict
// Content-Security-Policy). Text from the server only ever reaches the page as textContent.
'use strict';

(function () {
  // ---- Every string of the page, per language --------------------------------------------
  const STRINGS = {
    en: {
      skip: 'Skip to content',
      title: 'User import',
      language: 'Language',
      logout: 'Log out',
      loginHeading: 'Log in',
      loginHint: 'Use your school directory account.',
      username: 'User name',
      password: 'Password',
      login: 'Log in',
      loggingIn: 'Logging in…',
      loggedInAs: 'Signed in as {user}',
      loggedOut: 'You are logged out.',
      sessionExpired: 'Your session has ended. Please log in again.',
      needCredentials: 'Please enter your user name and password.',
      badLogin: 'User name or password is wrong.',
      importHeading: 'New import',
      importHint: 'Choose the school and role, pick the export file, check it with a dry run, then start the import.',
      school: 'School',
      role: 'Role',
      file: 'Export file (CSV)',
      noSchools: 'Your account may not import for any school.',
      dryRun: 'Dry run',
      startImport: 'Start import',
      startHint: 'The import can be started after a dry run of the same file.',
      needFile: 'Please choose a CSV file.',
      uploading: 'Uploading {file}…',
      dryRunDone: 'Dry run finished: nothing was changed.',
      importStarted: 'Import started.',
      invalidFile: 'The file was not accepted: {message}',
      jobHeading: 'Import',
      dryRunHeading: 'Dry run',
      rejectedHeading: 'File not accepted',
      rejectedNote: 'Nothing was imported. Please correct the file (see the lines below) and try again.',
      fileName: 'File',
      rows: 'Rows',
      kind: 'Kind',
      kindDry: 'Dry run',
      kindReal: 'Import',
      created: 'Created',
      principal: 'By',
      importId: 'Import ID',
      status: 'Status',
      guardTitle: 'The deletion guard would hold this import.',
      guardText: '{removals} of {members} accounts would lose this school. The import will be held until an administrator releases it.',
      guardTitleHeld: 'The deletion guard holds this import.',
      guardHeld: '{removals} of {members} accounts would lose this school. Nobody was removed; an administrator must release the import.',
      dryRunNote: 'This is a prediction from the directory as it is now. Nothing was changed.',
      incompleteNote: 'The import did not complete; nobody was removed. Please contact your administrator.',
      abortedNote: 'The import was aborted; nothing was removed.',
      countsHeading: 'Result',
      countsHeadingDry: 'What the import would do',
      c_created: 'Created',
      c_modified: 'Modified',
      c_unchanged: 'Unchanged',
      c_school_removed: 'School removed',
      c_to_limbo: 'Deactivated (limbo)',
      c_reactivated: 'Reactivated',
      c_rejected: 'Rejected',
      errorsHeading: 'Row errors',
      e_file: 'File',
      e_line: 'Line',
      e_column: 'Column',
      e_message: 'Problem',
      downloadSummary: 'Download summary (CSV)',
      downloadPasswords: 'Download passwords (CSV)',
      downloaded: 'Downloaded {file}.',
      jobsHeading: 'Recent imports',
      filterSchool: 'Filter by school',
      allSchools: 'All schools',
      refresh: 'Refresh',
      noJobs: 'No imports yet.',
      details: 'Details',
      show: 'Show',
      showJob: 'Show import {id}',
      previous: 'Previous',
      next: 'Next',
      pageOf: 'Page {page} · {count} imports',
      apiDocs: 'API documentation',
      statusChanged: 'Import status: {status}',
      polling: 'The directory is being updated… ({status})',
      yes: 'yes',
      no: 'no',
      s_new: 'New',
      s_scheduled: 'Scheduled',
      s_started: 'Running',
      s_finished: 'Finished',
      s_held: 'Held',
      s_incomplete: 'Incomplete',
      s_aborted: 'Aborted',
      r_student: 'Students',
      r_teacher: 'Teachers',
      r_staff: 'Staff',
      r_teacher_and_staff: 'Teachers and staff',
      err_bad_request: 'The request was not accepted: {message}',
      err_unauthorized: 'Please log in again.',
      err_forbidden: 'You may not do this for this school.',
      err_not_found: 'Not found.',
      err_too_large: 'The file is too large.',
      err_too_many: 'Too many requests. Please try again in {seconds} seconds.',
      err_too_many_nowait: 'Too many requests. Please try again later.',
      err_too_many_imports: 'This school has as many imports in progress as allowed (held ones count until an administrator releases them). Please wait until one has finished.',
      err_unavailable: 'The service is not available right now. Please try again in {seconds} seconds.',
      err_unavailable_nowait: 'The service is not available right now. Please try again later.',
      err_network: 'The server cannot be reached. Please check your connection.',
      err_other: 'Something went wrong (HTTP {status}).'
    },
    de: {
      skip: 'Zum Inhalt springen',
      title: 'Benutzerimport',
      language: 'Sprache',
      logout: 'Abmelden',
      loginHeading: 'Anmelden',
      loginHint: 'Mit Ihrem Konto aus dem Schulverzeichnis.',
      username: 'Benutzername',
      password: 'Passwort',
      login: 'Anmelden',
      loggingIn: 'Anmeldung läuft…',
      loggedInAs: 'Angemeldet als {user}',
      loggedOut: 'Sie sind abgemeldet.',
      sessionExpired: 'Ihre Sitzung ist abgelaufen. Bitte melden Sie sich erneut an.',
      needCredentials: 'Bitte Benutzername und Passwort eingeben.',
      badLogin: 'Benutzername oder Passwort ist falsch.',
      importHeading: 'Neuer Import',
      importHint: 'Schule und Rolle wählen, die Exportdatei auswählen, mit einem Probelauf prüfen, dann den Import starten.',
      school: 'Schule',
      role: 'Rolle',
      file: 'Exportdatei (CSV)',
      noSchools: 'Ihr Konto darf für keine Schule importieren.',
      dryRun: 'Probelauf',
      startImport: 'Import starten',
      startHint: 'Der Import lässt sich nach einem Probelauf derselben Datei starten.',
      needFile: 'Bitte eine CSV-Datei auswählen.',
      uploading: '{file} wird hochgeladen…',
      dryRunDone: 'Probelauf beendet: Es wurde nichts geändert.',
      importStarted: 'Import gestartet.',
      invalidFile: 'Die Datei wurde nicht angenommen: {message}',
      jobHeading: 'Import',
      dryRunHeading: 'Probelauf',
      rejectedHeading: 'Datei nicht angenommen',
      rejectedNote: 'Es wurde nichts importiert. Bitte korrigieren Sie die Datei (siehe die Zeilen unten) und versuchen Sie es erneut.',
      fileName: 'Datei',
      rows: 'Zeilen',
      kind: 'Art',
      kindDry: 'Probelauf',
      kindReal: 'Import',
      created: 'Erstellt',
      principal: 'Von',
      importId: 'Import-ID',
      status: 'Status',
      guardTitle: 'Die Löschsperre würde diesen Import anhalten.',
      guardText: '{removals} von {members} Konten würden diese Schule verlieren. Der Import wird angehalten, bis eine Administratorin oder ein Administrator ihn freigibt.',
      guardTitleHeld: 'Die Löschsperre hält diesen Import an.',
      guardHeld: '{removals} von {members} Konten würden diese Schule verlieren. Niemand wurde entfernt; eine Administratorin oder ein Administrator muss den Import freigeben.',
      dryRunNote: 'Dies ist eine Vorhersage aus dem aktuellen Verzeichnis. Es wurde nichts geändert.',
      incompleteNote: 'Der Import wurde nicht vollständig ausgeführt; niemand wurde entfernt. Bitte wenden Sie sich an Ihre Administration.',
      abortedNote: 'Der Import wurde abgebrochen; niemand wurde entfernt.',
      countsHeading: 'Ergebnis',
      countsHeadingDry: 'Was der Import tun würde',
      c_created: 'Neu angelegt',
      c_modified: 'Geändert',
      c_unchanged: 'Unverändert',
      c_school_removed: 'Schule entfernt',
      c_to_limbo: 'Deaktiviert (Limbo)',
      c_reactivated: 'Reaktiviert',
      c_rejected: 'Abgelehnt',
      errorsHeading: 'Fehler in Zeilen',
      e_file: 'Datei',
      e_line: 'Zeile',
      e_column: 'Spalte',
      e_message: 'Problem',
      downloadSummary: 'Zusammenfassung herunterladen (CSV)',
      downloadPasswords: 'Passwörter herunterladen (CSV)',
      downloaded: '{file} heruntergeladen.',
      jobsHeading: 'Letzte Importe',
      filterSchool: 'Nach Schule filtern',
      allSchools: 'Alle Schulen',
      refresh: 'Aktualisieren',
      noJobs: 'Noch keine Importe.',
      details: 'Details',
      show: 'Anzeigen',
      showJob: 'Import {id} anzeigen',
      previous: 'Zurück',
      next: 'Weiter',
      pageOf: 'Seite {page} · {count} Importe',
      apiDocs: 'API-Dokumentation',
      statusChanged: 'Importstatus: {status}',
      polling: 'Das Verzeichnis wird aktualisiert… ({status})',
      yes: 'ja',
      no: 'nein',
      s_new: 'Neu',
      s_scheduled: 'Eingeplant',
      s_started: 'Läuft',
      s_finished: 'Abgeschlossen',
      s_held: 'Angehalten',
      s_incomplete: 'Unvollständig',
      s_aborted: 'Abgebrochen',
      r_student: 'Schülerinnen und Schüler',
      r_teacher: 'Lehrkräfte',
      r_staff: 'Mitarbeitende',
      r_teacher_and_staff: 'Lehrkräfte und Mitarbeitende',
      err_bad_request: 'Die Anfrage wurde nicht angenommen: {message}',
      err_unauthorized: 'Bitte melden Sie sich erneut an.',
      err_forbidden: 'Das dürfen Sie für diese Schule nicht.',
      err_not_found: 'Nicht gefunden.',
      err_too_large: 'Die Datei ist zu groß.',
      err_too_many: 'Zu viele Anfragen. Bitte in {seconds} Sekunden erneut versuchen.',
      err_too_many_nowait: 'Zu viele Anfragen. Bitte später erneut versuchen.',
      err_too_many_imports: 'Für diese Schule laufen so viele Importe wie erlaubt (angehaltene zählen mit, bis eine Administratorin oder ein Administrator sie freigibt). Bitte warten Sie, bis einer abgeschlossen ist.',
      err_unavailable: 'Der Dienst ist gerade nicht erreichbar. Bitte in {seconds} Sekunden erneut versuchen.',
      err_unavailable_nowait: 'Der Dienst ist gerade nicht erreichbar. Bitte später erneut versuchen.',
      err_network: 'Der Server ist nicht erreichbar. Bitte prüfen Sie die Verbindung.',
      err_other: 'Etwas ist schiefgegangen (HTTP {status}).'
    }
  };

  const FINAL = ['finished', 'held', 'incomplete', 'aborted'];
  const COUNT_KEYS = ['created', 'modified', 'unchanged', 'school_removed', 'to_limbo',
    'reactivated', 'rejected'];
  const POLL_MS = 1500;
  const API = '/api/v1';

  // ---- State: all in memory; a reload forgets the token on purpose -----------------------
  const state = {
    lang: 'en',
    token: null,
    username: null,
    schools: [],
    job: null,          // the job shown in the job section
    pollTimer: null,
    pollSeq: 0,         // bumps when polling must stop (logout, another job shown)
    dryRunKey: null,    // school|role|file identity of the last clean dry run
    jobsPage: 1,
    busy: false,
    statusMsg: null     // [key, vars] of the status line, re-rendered on a language switch
  };

  const $ = (id) => document.getElementById(id);

  // ---- i18n --------------------------------------------------------------------------------
  function t(key, vars) {
    const table = STRINGS[state.lang] || STRINGS.en;
    let s = Object.prototype.hasOwnProperty.call(table, key) ? table[key] : STRINGS.en[key];
    if (s === undefined) return key;
    if (vars) {
      s = s.replace(/\{(\w+)\}/g, (m, name) =>
        Object.prototype.hasOwnProperty.call(vars, name) ? String(vars[name]) : m);
    }
    return s;
  }

  // German for the first preferred language that is German; English otherwise. The first
  // language the browser prefers among those the page has decides.
  function browserLang() {
    const prefs = (navigator.languages && navigator.languages.length)
      ? navigator.languages : [navigator.language || 'en'];
    for (const l of prefs) {
      const p = String(l).toLowerCase();
      if (p.startsWith('de')) return 'de';
      if (p.startsWith('en')) return 'en';
    }
    return 'en';
  }

  function applyLang(lang) {
    state.lang = STRINGS[lang] ? lang : 'en';
    document.documentElement.lang = state.lang;
    $('lang').value = state.lang;
    document.title = 'sisopi – ' + t('title');
    for (const el of document.querySelectorAll('[data-i18n]')) {
      el.textContent = t(el.getAttribute('data-i18n'));
    }
    fillRoleSelect();
    fillJobsSchoolSelect();
    if (state.job) renderJob(state.job);
    renderWhoami();
    if (state.statusMsg) announce(state.statusMsg[0], state.statusMsg[1]);
    if (state.token) loadJobs(state.jobsPage);
  }

  // ---- Announcements (aria-live) -----------------------------------------------------------
  function announce(key, vars) {
    state.statusMsg = key ? [key, vars] : null;
    $('status').textContent = key ? t(key, vars) : '';
  }

  function showError(el, text) {
    el.textContent = text;
    el.hidden = !text;
  }

  // ---- HTTP --------------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, body, retryAfter) {
      super((body && body.message) || ('HTTP ' + status));
      this.status = status;
      this.code = (body && body.error) || null;
      this.body = body || {};
      this.retryAfter = retryAfter;
    }
  }

  async function request(method, path, opts) {
    opts = opts || {};
    const headers = Object.assign({ Accept: 'application/json' }, opts.headers || {});
    if (state.token && !opts.noAuth) headers.Authorization = 'Bearer ' + state.token;
    let res;
    try {
      // credentials 'omit': the token is the only credential, and a 401 with
      // WWW-Authenticate: Basic then never opens the browser's own login dialog.
      res = await fetch(path, { method, headers, body: opts.body, credentials: 'omit',
        cache: 'no-store' });
    } catch (e) {
      throw new ApiError(0, { error: 'network', message: String(e) }, null);
    }
    if (opts.raw && res.ok) return res;
    let body = null;
    const ct = res.headers.get('Content-Type') || '';
    if (res.status !== 204 && ct.includes('application/json')) {
      try { body = await res.json(); } catch (e) { body = null; }
    }
    if (!res.ok) {
      const ra = parseInt(res.headers.get('Retry-After') || '', 10);
      const err = new ApiError(res.status, body, Number.isFinite(ra) ? ra : null);
      if (res.status === 401 && state.token && !opts.noAuth) {
        // The token expired or was revoked: back to the login form.
        dropSession();
        announce(null); // the alert beside the form says it, once
        showError($('login-error'), t('sessionExpired'));
        ($('username').value ? $('password') : $('username')).focus();
      }
      throw err;
    }
    return body;
  }

  // A user-facing message for any failed call, in the page's language.
  function errorText(err) {
    if (!(err instanceof ApiError)) return t('err_other', { status: '?' });
    const secs = err.retryAfter;
    switch (err.code || (err.status === 0 ? 'network' : '')) {
      case 'network': return t('err_network');
      case 'bad_request': return t('err_bad_request', { message: err.message });
      case 'invalid_file': return t('invalidFile', { message: err.message });
      case 'unauthorized': return t('err_unauthorized');
      case 'forbidden': return t('err_forbidden');
      case 'not_found': return t('err_not_found');
      case 'too_large': return t('err_too_large');
      case 'too_many':
        return secs !== null ? t('err_too_many', { seconds: secs }) : t('err_too_many_nowait');
      case 'unavailable':
        return secs !== null ? t('err_unavailable', { seconds: secs })
          : t('err_unavailable_nowait');
      default:
        if (err.status === 413) return t('err_too_large');
        if (err.status === 429) return t('err_too_many_nowait');
        if (err.status === 503) return t('err_unavailable_nowait');
        return t('err_other', { status: err.status });
    }
  }

  // ---- Session -----------------------------------------------------------------------------
  function showLoggedOut() {
    $('app-section').hidden = true;
    $('login-section').hidden = false;
    $('logout').hidden = true;
    renderWhoami();
  }

  function showLoggedIn() {
    showError($('login-error'), '');
    showError($('import-error'), ''); // anything a call of the last session left there
    $('login-section').hidden = true;
    $('app-section').hidden = false;
    $('logout').hidden = false;
    renderWhoami();
  }

  function renderWhoami() {
    const w = $('whoami');
    w.textContent = state.username ? t('loggedInAs', { user: state.username }) : '';
    w.hidden = !state.username;
  }

  // Forgets everything the session showed: token, schools, jobs, the shown job.
  function dropSession() {
    stopPolling();
    state.token = null;
    state.username = null;
    state.schools = [];
    state.job = null;
    state.dryRunKey = null;
    state.jobsPage = 1;
    $('school').replaceChildren();
    $('role').replaceChildren();
    $('jobs-school').replaceChildren();
    $('jobs-table').tBodies[0].replaceChildren();
    $('job-section').hidden = true;
    $('import-form').reset();
    showError($('import-error'), '');
    updateStartButton();
    showLoggedOut();
  }

  async function onLogin(ev) {
    ev.preventDefault();
    const user = $('username').value.trim();
    const pass = $('password').value;
    const errEl = $('login-error');
    if (!user || !pass) {
      showError(errEl, t('needCredentials'));
      (user ? $('password') : $('username')).focus();
      return;
    }
    showError(errEl, '');
    $('login-submit').disabled = true;
    announce('loggingIn');
    try {
      const body = await request('POST', API + '/token', {
        noAuth: true,
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ username: user, password: pass })
      });
      if (!body || typeof body.token !== 'string' || !body.token) {
        throw new ApiError(500, null, null);
      }
      state.token = body.token;
      state.username = body.username || user;
      $('password').value = '';
      announce('loggedInAs', { user: state.username });
      showLoggedIn();
      await loadSchools();
      loadJobs(1);
      $('school').focus();
    } catch (err) {
      state.token = null;
      $('password').value = '';
      announce(null);
      showError(errEl, err.status === 401 ? t('badLogin') : errorText(err));
      $('password').focus();
    } finally {
      $('login-submit').disabled = false;
    }
  }

  async function onLogout() {
    const token = state.token;
    dropSession();
    announce('loggedOut');
    $('username').focus();
    if (token) {
      try {
        await fetch(API + '/token/revoke', { method: 'POST', credentials: 'omit',
          headers: { Authorization: 'Bearer ' + token } });
      } catch (e) { /* the token expires by itself */ }
    }
  }

  // ---- Schools and roles -------------------------------------------------------------------
  async function loadSchools() {
    const body = await request('GET', API + '/schools/');
    state.schools = (body && Array.isArray(body.results)) ? body.results : [];
    const sel = $('school');
    sel.replaceChildren();
    for (const s of state.schools) {
      const o = document.createElement('option');
      o.value = s.name;
      o.textContent = s.display_name && s.display_name !== s.name
        ? s.display_name + ' (' + s.name + ')' : s.name;
      sel.appendChild(o);
    }
    $('no-schools').hidden = state.schools.length > 0;
    $('dryrun-btn').disabled = state.schools.length === 0;
    fillRoleSelect();
    fillJobsSchoolSelect();
  }

  function fillRoleSelect() {
    const sel = $('role');
    const keep = sel.value;
    const school = state.schools.find((s) => s.name === $('school').value);
    sel.replaceChildren();
    for (const r of (school && Array.isArray(school.roles)) ? school.roles : []) {
      const o = document.createElement('option');
      o.value = r;
      o.textContent = roleText(r);
      sel.appendChild(o);
    }
    if (keep && Array.from(sel.options).some((o) => o.value === keep)) sel.value = keep;
  }

  function fillJobsSchoolSelect() {
    const sel = $('jobs-school');
    const keep = sel.value;
    sel.replaceChildren();
    const all = document.createElement('option');
    all.value = '';
    all.textContent = t('allSchools');
    sel.appendChild(all);
    for (const s of state.schools) {
      const o = document.createElement('option');
      o.value = s.name;
      o.textContent = s.name;
      sel.appendChild(o);
    }
    sel.value = keep && state.schools.some((s) => s.name === keep) ? keep : '';
  }

  // ---- Upload: dry run and start -----------------------------------------------------------
  function selectionKey() {
    const f = $('file').files[0];
    if (!f) return null;
    return [$('school').value, $('role').value, f.name, f.size, f.lastModified].join('|');
  }

  function updateStartButton() {
    const ok = !state.busy && state.dryRunKey !== null && state.dryRunKey === selectionKey();
    $('start-btn').disabled = !ok;
    $('dryrun-btn').disabled = state.busy || state.schools.length === 0;
  }

  function onSelectionChanged() {
    state.dryRunKey = null;
    showError($('import-error'), '');
    updateStartButton();
  }

  async function upload(dryrun) {
    const errEl = $('import-error');
    const file = $('file').files[0];
    showError(errEl, '');
    if (!file) {
      showError(errEl, t('needFile'));
      $('file').focus();
      return;
    }
    const key = selectionKey();
    const fd = new FormData();
    fd.append('school', $('school').value);
    fd.append('user_role', $('role').value);
    fd.append('dryrun', dryrun ? 'true' : 'false');
    fd.append('input_file', file, file.name);
    state.busy = true;
    updateStartButton();
    announce('uploading', { file: file.name });
    try {
      const job = await request('POST', API + '/imports/users/', { body: fd });
      if (dryrun) {
        state.dryRunKey = key;
        announce('dryRunDone');
      } else {
        state.dryRunKey = null; // a second start needs a new dry run
        announce('importStarted');
      }
      showJob(job, true);
      loadJobs(1);
    } catch (err) {
      // A refused file replaces the job shown; any other refusal (limits, the service away)
      // leaves it, and its polling, as they were.
      if (err.code === 'invalid_file' || err.status === 422) {
        showRejectedFile(file.name, dryrun, err);
      }
      // An upload's 429 is the school's limit of imports in progress, not a rate limit.
      showError(errEl, err.status === 429 ? t('err_too_many_imports') : errorText(err));
      announce(null);
    } finally {
      state.busy = false;
      updateStartButton();
    }
  }

  // A file refused as a whole: its row errors in the job section's table, no job.
  function showRejectedFile(fileName, dryrun, err) {
    stopPolling();
    state.job = null;
    const errors = Array.isArray(err.body.errors) ? err.body.errors : [];
    $('job-section').hidden = errors.length === 0;
    if (errors.length === 0) return;
    // Kept as the shown "job" so that a language switch renders it again; it has no id, so
    // nothing polls it and it offers no download.
    state.job = { filename: fileName, dryrun, school: $('school').value,
      user_role: $('role').value, status: null, errors, counts: null, _rejected: true };
    renderJob(state.job);
  }

  // ---- A job: render and poll --------------------------------------------------------------
  function showJob(job, focus) {
    stopPolling();
    state.job = job;
    renderJob(job);
    $('job-section').hidden = false;
    if (focus) $('job-heading').focus();
    if (job.id && !FINAL.includes(job.status)) schedulePoll(job.id);
  }

  function fmtDate(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    if (isNaN(d.getTime())) return String(iso);
    return new Intl.DateTimeFormat(state.lang === 'de' ? 'de-DE' : 'en-GB',
      { dateStyle: 'medium', timeStyle: 'short' }).format(d);
  }

  // A name the page has no text for (a newer server's) is shown as the server spells it.
  function known(prefix, v) {
    return v && Object.prototype.hasOwnProperty.call(STRINGS.en, prefix + v) ? t(prefix + v)
      : (v || '');
  }
  function statusText(s) { return known('s_', s); }
  function roleText(r) { return known('r_', r); }

  function renderJob(job) {
    $('job-heading').textContent = job._rejected ? t('rejectedHeading')
      : job.dryrun ? t('dryRunHeading') : t('jobHeading');
    $('job-facts').hidden = !!job._rejected;
    const badge = $('job-status');
    badge.textContent = statusText(job.status);
    badge.hidden = !job.status;
    badge.setAttribute('data-status', job.status || '');
    badge.className = 'badge badge-' + (job.status || 'none');
    $('job-school').textContent = job.school || '';
    $('job-role').textContent = roleText(job.user_role);
    $('job-filename').textContent = job.filename || '';
    $('job-rows').textContent = job.rows !== undefined && job.rows !== null ? String(job.rows) : '–';
    $('job-kind').textContent = job.dryrun ? t('kindDry') : t('kindReal');
    $('job-date').textContent = fmtDate(job.date_created) || '–';
    $('job-principal').textContent = job.principal || '–';
    $('job-id').textContent = job.id || '–';

    const running = job.id && job.status && !FINAL.includes(job.status);
    $('job-progress').hidden = !running;
    $('job-progress-text').textContent = running ? t('polling', { status: statusText(job.status) }) : '';

    const guard = job.guard || {};
    // "Would hold" is a dry run's prediction; a real import shows the guard only while held
    // (released, it goes on to its outcome).
    const guardOn = job.status === 'held' || (!!job.dryrun && !!guard.would_hold);
    $('guard-warning').hidden = !guardOn;
    $('guard-title').textContent = t(job.status === 'held' ? 'guardTitleHeld' : 'guardTitle');
    $('guard-text').textContent = guardOn
      ? t(job.status === 'held' ? 'guardHeld' : 'guardText',
        { removals: guard.removals || 0, members: guard.members || 0 })
      : '';

    let note = null;
    if (job._rejected) note = 'rejectedNote';
    else if (job.dryrun) note = 'dryRunNote';
    else if (job.status === 'incomplete') note = 'incompleteNote';
    else if (job.status === 'aborted') note = 'abortedNote';
    $('job-note').textContent = note ? t(note) : '';
    $('job-note').hidden = !note;

    // A running import's counts are not its result yet: shown once it has an outcome.
    const counts = running ? null : (job.counts || null);
    $('counts').hidden = !counts;
    $('counts-heading').hidden = !counts;
    $('counts-heading').textContent = job.dryrun ? t('countsHeadingDry') : t('countsHeading');
    for (const k of COUNT_KEYS) {
      const row = document.querySelector('#counts tr[data-count="' + k + '"]');
      const v = counts && typeof counts[k] === 'number' ? counts[k] : 0;
      row.cells[0].textContent = t('c_' + k);
      row.cells[1].textContent = String(v);
      row.classList.toggle('zero', v === 0);
    }

    renderErrors(Array.isArray(job.errors) ? job.errors : []);

    $('summary-btn').hidden = !(job.summary_url && FINAL.includes(job.status));
    $('passwords-btn').hidden = !job.password_url;
  }

  function renderErrors(errors) {
    const tbody = $('errors-table').tBodies[0];
    tbody.replaceChildren();
    const labels = [t('e_file'), t('e_line'), t('e_column'), t('e_message')];
    for (const e of errors) {
      const tr = document.createElement('tr');
      [e.file, e.line, e.column, e.message].forEach((v, i) => {
        const td = document.createElement('td');
        td.setAttribute('data-label', labels[i]); // the column's name on a phone (app.css)
        td.textContent = v === null || v === undefined ? '–' : String(v);
        tr.appendChild(td);
      });
      tbody.appendChild(tr);
    }
    $('job-errors').hidden = errors.length === 0;
  }

  function stopPolling() {
    state.pollSeq++;
    if (state.pollTimer) clearTimeout(state.pollTimer);
    state.pollTimer = null;
  }

  function schedulePoll(id, delay) {
    const seq = state.pollSeq;
    state.pollTimer = setTimeout(() => poll(id, seq), delay || POLL_MS);
  }

  async function poll(id, seq) {
    if (seq !== state.pollSeq || !state.token) return;
    let job;
    try {
      job = await request('GET', API + '/imports/users/' + encodeURIComponent(id));
    } catch (err) {
      if (seq !== state.pollSeq || !state.token) return;
      if (err.status === 0 || err.status === 429 || err.status === 503) {
        // Passing trouble: keep following, at the pace the server asks for.
        schedulePoll(id, Math.min(30, Math.max(1, err.retryAfter || 2)) * 1000);
      } else {
        showError($('import-error'), errorText(err));
      }
      return;
    }
    if (seq !== state.pollSeq) return;
    const before = state.job && state.job.status;
    state.job = job;
    renderJob(job);
    if (job.status !== before) {
      announce('statusChanged', { status: statusText(job.status) });
      updateJobRow(job);
    }
    if (FINAL.includes(job.status)) {
      state.pollTimer = null;
      loadJobs(state.jobsPage);
    } else {
      schedulePoll(id);
    }
  }

  // ---- Downloads ---------------------------------------------------------------------------
  // The files need the token, so a plain link cannot fetch them: fetch, then save the blob.
  async function download(url, fallbackName) {
    showError($('import-error'), '');
    try {
      const res = await request('GET', url, { raw: true, headers: { Accept: 'text/csv' } });
      const blob = await res.blob();
      let name = fallbackName;
      const cd = res.headers.get('Content-Disposition') || '';
      const m = /filename="([^"\/\\]+)"/.exec(cd);
      if (m) name = m[1];
      const href = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = href;
      a.download = name;
      a.hidden = true;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(href), 60000);
      announce('downloaded', { file: name });
    } catch (err) {
      showError($('import-error'), errorText(err));
    }
  }

  // ---- Recent jobs -------------------------------------------------------------------------
  async function loadJobs(page) {
    if (!state.token) return;
    const q = new URLSearchParams();
    const school = $('jobs-school').value;
    if (school) q.set('school', school);
    q.set('page', String(page || 1));
    let body;
    try {
      body = await request('GET', API + '/imports/users/?' + q.toString());
    } catch (err) {
      if (state.token) showError($('import-error'), errorText(err));
      return;
    }
    if (!state.token) return;
    state.jobsPage = body.page || page || 1;
    const jobs = Array.isArray(body.results) ? body.results : [];
    const tbody = $('jobs-table').tBodies[0];
    tbody.replaceChildren();
    for (const job of jobs) tbody.appendChild(jobRow(job));
    $('jobs-table').hidden = jobs.length === 0;
    $('jobs-empty').hidden = jobs.length > 0;
    $('jobs-prev').hidden = !body.previous;
    $('jobs-next').hidden = !body.next;
    $('jobs-page').textContent = jobs.length
      ? t('pageOf', { page: state.jobsPage, count: body.count || jobs.length }) : '';
  }

  function jobRow(job) {
    const tr = document.createElement('tr');
    tr.setAttribute('data-job-id', job.id || '');
    const cells = [fmtDate(job.date_created), job.school, roleText(job.user_role),
      job.filename, job.dryrun ? t('kindDry') : t('kindReal')];
    const labels = [t('created'), t('school'), t('role'), t('fileName'), t('kind')];
    cells.forEach((v, i) => {
      const td = document.createElement('td');
      td.setAttribute('data-label', labels[i]);
      td.textContent = v || '–';
      tr.appendChild(td);
    });
    const st = document.createElement('td');
    st.setAttribute('data-label', t('status'));
    const badge = document.createElement('span');
    badge.className = 'badge badge-' + (job.status || 'none');
    badge.setAttribute('data-status', job.status || '');
    badge.textContent = statusText(job.status);
    st.appendChild(badge);
    tr.appendChild(st);
    const act = document.createElement('td');
    const btn = document.createElement('button');
    btn.type = 'button';
    btn.className = 'btn btn-small';
    btn.textContent = t('show');
    btn.setAttribute('aria-label', t('showJob', { id: job.id }));
    btn.addEventListener('click', () => openJob(job.id));
    act.appendChild(btn);
    tr.appendChild(act);
    return tr;
  }

  function updateJobRow(job) {
    for (const tr of $('jobs-table').tBodies[0].rows) {
      if (tr.getAttribute('data-job-id') === job.id) tr.replaceWith(jobRow(job));
    }
  }

  async function openJob(id) {
    try {
      const job = await request('GET', API + '/imports/users/' + encodeURIComponent(id));
      showJob(job, true);
      $('job-section').scrollIntoView({ block: 'start' });
    } catch (err) {
      showError($('import-error'), errorText(err));
    }
  }

  // ---- Wiring ------------------------------------------------------------------------------
  function init() {
    applyLang(browserLang());
    $('lang').addEventListener('change', (e) => applyLang(e.target.value));
    $('login-form').addEventListener('submit', onLogin);
    $('logout').addEventListener('click', onLogout);
    $('school').addEventListener('change', () => { fillRoleSelect(); onSelectionChanged(); });
    $('role').addEventListener('change', onSelectionChanged);
    $('file').addEventListener('change', onSelectionChanged);
    $('import-form').addEventListener('submit', (e) => { e.preventDefault(); upload(true); });
    $('start-btn').addEventListener('click', () => upload(false));
    $('summary-btn').addEventListener('click', () => {
      if (state.job && state.job.summary_url) {
        download(state.job.summary_url, 'summary-' + state.job.id + '.csv');
      }
    });
    $('passwords-btn').addEventListener('click', () => {
      if (state.job && state.job.password_url) {
        download(state.job.password_url, 'passwords-' + state.job.id + '.csv');
      }
    });
    $('jobs-refresh').addEventListener('click', () => loadJobs(state.jobsPage));
    $('jobs-school').addEventListener('change', () => loadJobs(1));
    $('jobs-prev').addEventListener('click', () => loadJobs(Math.max(1, state.jobsPage - 1)));
    $('jobs-next').addEventListener('click', () => loadJobs(state.jobsPage + 1));
    showLoggedOut();
    document.body.setAttribute('data-ready', '1');
    $('username').focus();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
