package mirror

import (
	"context"
	"io"
	"testing"
	"time"
)

// BenchmarkWarmGet reads a cached object whole.
func BenchmarkWarmGet(b *testing.B) {
	e := newEnv(b)
	const size = 16 << 20
	e.put("warm.bin", randomBytes(size))
	c, _ := e.openCache(Options{})
	up := e.upstream("open-data")
	get(b, c, up, "warm.bin", 0, -1)
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		r, err := c.Get(context.Background(), up, "warm.bin", 0, -1)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, r); err != nil || n != size {
			b.Fatalf("%d bytes, %v", n, err)
		}
		r.Close()
	}
	if e.gets("warm.bin") != 1 {
		b.Fatal("a warm Get went upstream")
	}
}

// BenchmarkColdGetThrottled fetches an object through an upstream link of
// 20 MB/s with 150 ms of latency, as a cross-border link might be: the cost is
// the link's, and the cache should add little to it.
func BenchmarkColdGetThrottled(b *testing.B) {
	e := newEnv(b)
	const size = 4 << 20
	e.put("cold.bin", randomBytes(size))
	c, _ := e.openCache(Options{})
	up := e.upstream("open-data")
	e.proxy.set(func(p *proxy) { p.rate, p.latency = 20_000_000, 150*time.Millisecond })
	b.SetBytes(size)
	for b.Loop() {
		if err := c.Evict(up, "cold.bin"); err != nil {
			b.Fatal(err)
		}
		r, err := c.Get(context.Background(), up, "cold.bin", 0, -1)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, r); err != nil || n != size {
			b.Fatalf("%d bytes, %v", n, err)
		}
		r.Close()
	}
}
