package ledger_test

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
)

// writers is the number of concurrent writers the filing benchmarks use.
const writers = 64

// BenchmarkFile measures sustained durable filings per second: 64 concurrent
// writers, each filing one change per transaction and acknowledged only after its
// commit, with the integrator building the log at the same time. It reports the
// integration latency from acknowledgement to a signed checkpoint covering the
// filing (p50, p99).
func BenchmarkFile(b *testing.B) {
	storetest.ForEachEngine(b, func(b *testing.B, engine store.Engine) {
		db := storetest.Open(b, engine, store.Options{})
		l, _ := openLog(b, db)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); l.Run(ctx, 100*time.Millisecond) }()
		defer func() { cancel(); <-done }()

		var latencies []time.Duration
		lat := make(chan time.Duration, 1<<16)
		var sampled atomic.Int64
		b.SetParallelism(writers / 2) // GOMAXPROCS is 2 here: 64 goroutines
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				var seq int64
				err := db.Write(context.Background(), func(tx *store.Tx) error {
					f, err := ledger.File(tx, actor, ledger.Change{Type: "bench.filed", Subjects: []string{"prt_bench"},
						Payload: map[string]any{"deal": "deal_01jd3m5x8k2q7w9e4r6t1y0u3i", "amount": 1250000, "currency": "CNY"}})
					seq = f.Seq
					return err
				})
				if err != nil {
					b.Error(err)
					return
				}
				if sampled.Add(1)%64 == 0 { // sample the integration latency
					acked := time.Now()
					if _, err := l.WaitCovered(context.Background(), seq); err != nil {
						b.Error(err)
						return
					}
					select {
					case lat <- time.Since(acked):
					default:
					}
				}
			}
		})
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "filings/s")
		close(lat)
		for d := range lat {
			latencies = append(latencies, d)
		}
		if len(latencies) > 0 {
			sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
			b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99-ms")
		}
	})
}

// BenchmarkRawInsert is the baseline for BenchmarkFile: the same rows (a filing's
// columns, a canonical entry of the same size) inserted by 64 concurrent writers, one
// row per transaction, with the same durability, in the same database — and no
// sequence, hashing or log.
func BenchmarkRawInsert(b *testing.B) {
	for _, perTx := range []int{1, 100} {
		b.Run(fmt.Sprintf("rows-per-tx=%d", perTx), func(b *testing.B) {
			storetest.ForEachEngine(b, func(b *testing.B, engine store.Engine) {
				dsn := storetest.DSN(b, engine)
				if _, err := store.Open(context.Background(), dsn, store.Options{}); err != nil { // create the schema
					b.Fatal(err)
				}
				raw, err := openRaw(dsn)
				if err != nil {
					b.Fatal(err)
				}
				defer raw.Close()
				if _, err := raw.Exec(`CREATE TABLE raw_filings (seq BIGINT PRIMARY KEY, filed_at TEXT NOT NULL, actor TEXT NOT NULL,
					key_id TEXT NOT NULL, type TEXT NOT NULL, payload TEXT NOT NULL, entry TEXT NOT NULL, sha256 TEXT NOT NULL)`); err != nil {
					b.Fatal(err)
				}
				entry := `{"actor":"prt_test","filed_at":"2026-11-25T09:00:00.000000Z","key_id":"key_test","payload":{"amount":1250000,"currency":"CNY","deal":"deal_01jd3m5x8k2q7w9e4r6t1y0u3i"},"seq":1,"subjects":["prt_bench"],"type":"bench.filed"}`
				var next atomic.Int64
				b.SetParallelism(writers / 2)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						tx, err := raw.Begin()
						if err != nil {
							b.Error(err)
							return
						}
						for i := 0; i < perTx; i++ {
							seq := next.Add(1)
							if _, err := tx.Exec(`INSERT INTO raw_filings VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, seq,
								"2026-11-25T09:00:00.000000Z", "prt_test", "key_test", "bench.filed", entry, entry, strings.Repeat("a", 64)); err != nil {
								tx.Rollback()
								b.Error(err)
								return
							}
						}
						if err := tx.Commit(); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.StopTimer()
				b.ReportMetric(float64(b.N*perTx)/b.Elapsed().Seconds(), "rows/s")
			})
		})
	}
}

// openRaw opens the database as the store does (same pragmas and durability), but
// with plain database/sql, for the baseline.
func openRaw(dsn string) (*sql.DB, error) {
	if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate")
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(1)
		return db, nil
	}
	return sql.Open("pgx", dsn)
}

// BenchmarkInclusionProof generates inclusion proofs in a log of 65,536 filings.
func BenchmarkInclusionProof(b *testing.B) {
	storetest.ForEachEngine(b, func(b *testing.B, engine store.Engine) {
		db := storetest.Open(b, engine, store.Options{})
		l, _ := openLog(b, db)
		const size = 1 << 16
		for done := 0; done < size; done += 8192 {
			file(b, db, 8192)
		}
		for {
			n, err := l.Integrate(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			if n == 0 {
				break
			}
		}
		var i atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				seq := 1 + (i.Add(7919) % size)
				if _, err := l.InclusionProof(context.Background(), seq, size); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "proofs/s")
	})
}
