# Scenario a of bench_authority.sh: the reconciler's throughput over time during the initial
# load (the ingest ran before). Called with
#   gnuplot -e "records='...'; metrics='...'; outfile='...'; rawadd=N; subtitle='...'"
# records: "seconds rate" per reconciler batch, from the CreateTime of the events the batch
#          wrote (the rate holds from the previous batch's end to this one's: fsteps);
# metrics: "seconds ldap_writes/s" from /metrics sampled every 0.5 s, between samples that
#          saw the counter change.
# Seconds count from the first partition assignment. The raw async add rate of the same slapd
# configuration is drawn as the ceiling.
set terminal pngcairo size 1100,600 noenhanced font ",10"
set output outfile
set title sprintf("sisopi initial load, the reconciler's throughput over time (%s)", subtitle)
set xlabel "seconds since the reconciler got its partitions (every file already ingested)"
set ylabel "per second"
set grid
set key outside bottom center horizontal
set yrange [0:*]
set offsets 0, 0, graph 0.08, 0   # room above the raw limit line
set xrange [0:*]
plot records using 1:2 with fsteps lw 2 lc rgb "#1f77b4" title "records applied/s (per batch, from sisopi.events)", \
     metrics using 1:2 with fsteps lw 1 lc rgb "#ff7f0e" title "LDAP writes/s (/metrics)", \
     rawadd with lines lw 1 dashtype 2 lc rgb "#d62728" title sprintf("raw async add limit (%d/s)", rawadd)
