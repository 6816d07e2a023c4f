# Scenario a of bench_authority.sh: the reconciler's throughput over time during the initial
# load (the ingest ran before), and below it how busy slapd, the reconciler and the devbroker
# were. Called with
#   gnuplot -e "records='...'; metrics='...'; busy='...'; xmax=S; outfile='...'; rawadd=N; subtitle='...'"
# records: "seconds rate" per reconciler batch, from the CreateTime of the events the batch
#          wrote (the rate holds from the previous batch's end to this one's: fsteps);
# metrics: "seconds ldap_writes/s" from /metrics sampled every 0.5 s, between samples that
#          saw the counter change;
# busy:    "seconds slapd reconciler devbroker", CPU seconds per wall second of each process
#          between two samples (utime + stime from /proc/PID/stat; 1 = one core busy).
# Seconds count from the first partition assignment, to xmax in both panels. The raw async add rate of the same slapd
# configuration (the best of the run's limit rounds) is drawn as the ceiling.
set terminal pngcairo size 1100,900 noenhanced font ",10"
set output outfile
set multiplot layout 2,1 title sprintf("sisopi initial load (%s)", subtitle)
set title "the reconciler's throughput over time"
set xlabel "seconds since the reconciler got its partitions (every file already ingested)"
set ylabel "per second"
set grid
set key outside bottom center horizontal
set yrange [0:*]
set offsets 0, 0, graph 0.08, 0   # room above the raw limit line
set xrange [0:xmax]
plot records using 1:2 with fsteps lw 2 lc rgb "#1f77b4" title "records applied/s (per batch, from sisopi.events)", \
     metrics using 1:2 with fsteps lw 1 lc rgb "#ff7f0e" title "LDAP writes/s (/metrics)", \
     rawadd with lines lw 1 dashtype 2 lc rgb "#d62728" title sprintf("raw async add limit (%d/s)", rawadd)
set title "busy share: CPU seconds per wall second (sampled every 0.5 s; 1 = one core)"
set ylabel "CPU s / s"
set offsets 0, 0, 0, 0
set yrange [0:*]
plot busy using 1:2 with fsteps lw 2 lc rgb "#2ca02c" title "slapd", \
     busy using 1:3 with fsteps lw 2 lc rgb "#1f77b4" title "reconciler", \
     busy using 1:4 with fsteps lw 1 lc rgb "#9467bd" title "devbroker"
unset multiplot
