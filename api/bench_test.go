package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/store"
)

// BenchmarkServeTile measures tile requests per second over HTTP (loopback, keep-alive,
// parallel clients) from a log of 65,536 filings: full level-0 tiles, 8 KiB each.
func BenchmarkServeTile(b *testing.B) {
	x := newExchangeB(b)
	ctx := context.Background()
	for done := 0; done < 1<<16; done += 8192 {
		err := x.db.Write(ctx, func(tx *store.Tx) error {
			for i := 0; i < 8192; i++ {
				if _, err := ledger.File(tx, dataportActor, ledger.Change{Type: "bench.filed", Payload: map[string]int{"n": done + i}}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := x.log.WaitCovered(wctx, 1<<16); err != nil {
		b.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var i atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := i.Add(1) % 256
			res, err := client.Get(fmt.Sprintf("%s/log/tile/0/%03d", x.srv.URL, n))
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				b.Errorf("tile %d: %d", n, res.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tiles/s")
}
