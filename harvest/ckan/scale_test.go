package ckan_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dataport/dataport/harvest"
	"github.com/dataport/dataport/harvest/ckan"
)

// syntheticPackage is package i of a large portal: about 1.6 KB of JSON, shaped like
// fullPackage.
func syntheticPackage(i int) map[string]any {
	p := fullPackage()
	p["id"] = fmt.Sprintf("%08d-0000-4000-8000-%012d", i, i)
	p["name"] = "dataset-" + strconv.Itoa(i)
	p["title"] = fmt.Sprintf("Synthetic dataset %d", i)
	p["metadata_created"] = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute).Format("2006-01-02T15:04:05.000000")
	return p
}

// countingWriter counts the bytes the portal served.
type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w countingWriter) Write(b []byte) (int, error) {
	w.n.Add(int64(len(b)))
	return w.ResponseWriter.Write(b)
}

// TestStreamingIsMemoryFlat reads a 20,000-package portal, generated page by page by
// the server, and checks that the live heap does not grow with the packages read:
// only the ids seen (for duplicate detection) accumulate.
func TestStreamingIsMemoryFlat(t *testing.T) {
	const total = 20000
	var served atomic.Int64
	p := &portal{t: t, count: total, pkg: syntheticPackage}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.ServeHTTP(countingWriter{w, &served}, r)
	}))
	defer srv.Close()
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	var samples []uint64
	n := 0
	err := ckan.New(srv.URL, ckan.Options{PageSize: 500}).Read(context.Background(), func(r harvest.Record) error {
		n++
		if n%4000 == 1 {
			samples = append(samples, heap())
		}
		return nil
	}, func(p harvest.Problem) { t.Errorf("problem %+v", p) })
	if err != nil || n != total {
		t.Fatalf("%d records, %v", n, err)
	}
	first, peak := samples[0], samples[0]
	for _, s := range samples {
		peak = max(peak, s)
	}
	t.Logf("served %.1f MB; live heap %.1f MB at the first record, at most %.1f MB after, samples %v",
		float64(served.Load())/1e6, float64(first)/1e6, float64(peak)/1e6, samples)
	// Holding the portal would take well over 30 MB; the ids seen take about 2 MB.
	if served.Load() < 30e6 {
		t.Fatalf("the portal served only %d bytes", served.Load())
	}
	if peak > first+8<<20 {
		t.Errorf("live heap grew from %d to %d bytes while reading", first, peak)
	}
}

// BenchmarkRead reads a 20,000-package portal whose pages are rendered in advance,
// and reports records per second.
func BenchmarkRead(b *testing.B) {
	const total, size = 20000, 500
	pages := map[int][]byte{}
	for start := 0; start < total; start += size {
		var buf bytes.Buffer
		fmt.Fprintf(&buf, `{"help": "", "success": true, "result": {"count": %d, "results": [`, total)
		for i := start; i < min(start+size, total); i++ {
			if i > start {
				buf.WriteByte(',')
			}
			json.NewEncoder(&buf).Encode(syntheticPackage(i))
		}
		buf.WriteString(`]}}`)
		pages[start] = buf.Bytes()
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start, _ := strconv.Atoi(r.URL.Query().Get("start"))
		w.Write(pages[start])
	}))
	defer srv.Close()
	c := ckan.New(srv.URL, ckan.Options{PageSize: size})
	b.ReportAllocs()
	b.ResetTimer()
	records := 0
	for b.Loop() {
		err := c.Read(context.Background(), func(harvest.Record) error { records++; return nil }, func(p harvest.Problem) { b.Fatal(p) })
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}
