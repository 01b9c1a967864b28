package main

import (
	"fmt"
	"io"
	"sync"
	"testing"
	"time"
)

// BenchmarkMirrorColdWarm reads a 16 MiB object through the whole server: a client
// of the S3 endpoint, the mirror, and an upstream behind a proxy that adds 150 ms
// to every request and sends bodies at 20 MB/s, as a far-away foreign bucket
// would. cold reads an object the mirror has not seen (a fresh key per
// iteration), warm one it keeps, and cold-100 has a hundred clients read the same
// cold object at once. upstream-GETs/op and upstream-HEADs/op count what reached
// the upstream; x-faster-than-cold is warm's speed over cold's.
func BenchmarkMirrorColdWarm(b *testing.B) {
	const (
		size    = 16 << 20
		rate    = 20_000_000
		latency = 150 * time.Millisecond
	)
	up := newMirrorUpstream(b)
	s := startMirrorServer(b)
	name := "bench-" + mirrorHex(4)
	s.addUpstream(name, up)
	up.proxy.set(func(p *mirrorProxy) { p.rate, p.latency = rate, latency })
	data := mirrorRandom(size)
	fresh := func() string {
		key := "bench/" + mirrorHex(8) + ".bin"
		up.put(key, data)
		delete(up.data, key) // the bytes are data's; keep one copy
		return key
	}
	get := func(key string) error {
		res, err := s.http.Get(s.objectURL(name, key))
		if err != nil {
			return err
		}
		defer res.Body.Close()
		if n, err := io.Copy(io.Discard, res.Body); err != nil || n != size || res.StatusCode != 200 {
			return fmt.Errorf("GET %s: %s, %d bytes, %v", key, res.Status, n, err)
		}
		return nil
	}
	read := func(b *testing.B, key string) {
		if err := get(key); err != nil {
			b.Fatal(err)
		}
	}
	var coldPerOp time.Duration // what a cold read took, for warm's ratio

	b.Run("cold", func(b *testing.B) {
		b.SetBytes(size)
		var took time.Duration
		before, heads := up.proxy.totalGets(), up.proxy.totalHeads()
		for range b.N {
			b.StopTimer()
			key := fresh()
			b.StartTimer()
			start := time.Now()
			read(b, key)
			took += time.Since(start)
		}
		b.ReportMetric(float64(up.proxy.totalGets()-before)/float64(b.N), "upstream-GETs/op")
		b.ReportMetric(float64(up.proxy.totalHeads()-heads)/float64(b.N), "upstream-HEADs/op")
		coldPerOp = took / time.Duration(b.N)
	})

	b.Run("warm", func(b *testing.B) {
		key := fresh()
		read(b, key)
		before := up.proxy.totalGets()
		b.SetBytes(size)
		b.ResetTimer()
		start := time.Now()
		for range b.N {
			read(b, key)
		}
		warm := time.Since(start) / time.Duration(b.N)
		b.ReportMetric(float64(up.proxy.totalGets()-before)/float64(b.N), "upstream-GETs/op")
		if cold := coldPerOp; cold > 0 {
			b.ReportMetric(float64(cold)/float64(warm), "x-faster-than-cold")
		}
	})

	b.Run("cold-100", func(b *testing.B) {
		const clients = 100
		b.SetBytes(clients * size)
		before, heads := up.proxy.totalGets(), up.proxy.totalHeads()
		for range b.N {
			b.StopTimer()
			key := fresh()
			b.StartTimer()
			var wg sync.WaitGroup
			errs := make(chan error, clients)
			for range clients {
				wg.Go(func() {
					if err := get(key); err != nil {
						errs <- err
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(up.proxy.totalGets()-before)/float64(b.N), "upstream-GETs/op")
		b.ReportMetric(float64(up.proxy.totalHeads()-heads)/float64(b.N), "upstream-HEADs/op")
	})
}
