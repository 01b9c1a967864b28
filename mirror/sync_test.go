package mirror

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dataport/dataport"
)

func TestSyncResumes(t *testing.T) {
	e := newEnv(t)
	var keys []string
	for i := range 10 {
		k := fmt.Sprintf("sync/数据 %02d.bin", i)
		e.put(k, randomBytes(64<<10+i))
		keys = append(keys, k)
	}
	e.put("elsewhere", []byte("not synced"))
	c, _ := e.openCache(Options{})
	up := e.upstream("open-data")

	// Interrupted after five objects.
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	rep, err := c.Sync(ctx, up, "sync/", SyncOptions{Concurrency: 1, Progress: func(done, total int64, key string) {
		calls++
		if calls == 5 {
			cancel()
		}
	}})
	cancel()
	if dataport.KindOf(err) != dataport.KindUnavailable {
		t.Fatalf("interrupted Sync: %v", err)
	}
	if rep.Objects != 10 || rep.Fetched != 5 || rep.Skipped != 0 || len(rep.Failed) != 0 {
		t.Fatalf("interrupted report %+v", rep)
	}
	cached := 0
	for _, k := range keys {
		if _, ok := c.Cached(up, k); ok {
			cached++
		}
	}
	if cached != 5 {
		t.Fatalf("%d cached after the interruption, want 5", cached)
	}

	// Run again: the rest is fetched, nothing twice.
	var last, total int64
	rep, err = c.Sync(context.Background(), up, "sync/", SyncOptions{Concurrency: 3, Progress: func(done, tot int64, key string) {
		if done < last {
			t.Errorf("progress went back from %d to %d", last, done)
		}
		last, total = done, tot
	}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Objects != 10 || rep.Fetched != 5 || rep.Skipped != 5 || len(rep.Failed) != 0 {
		t.Fatalf("resumed report %+v", rep)
	}
	var size int64
	for _, k := range keys {
		size += int64(len(e.data[k]))
		if n := e.gets(k); n != 1 {
			t.Errorf("%q fetched %d times", k, n)
		}
		if got := get(t, c, up, k, 0, -1); !bytes.Equal(got, e.data[k]) {
			t.Errorf("%q differs", k)
		}
	}
	if last != size || total != size {
		t.Fatalf("progress ended at %d of %d, want %d", last, total, size)
	}
	if e.gets("elsewhere") != 0 {
		t.Fatal("Sync fetched outside its prefix")
	}

	// A third run has nothing to do; an object changed upstream is fetched again.
	e.put(keys[3], []byte("changed upstream"))
	rep, err = c.Sync(context.Background(), up, "sync/", SyncOptions{})
	if err != nil || rep.Fetched != 1 || rep.Skipped != 9 {
		t.Fatalf("third run %+v %v", rep, err)
	}
	if got := get(t, c, up, keys[3], 0, -1); string(got) != "changed upstream" {
		t.Fatalf("refreshed object %q", got)
	}
	if u := c.Usage(); u.Objects != 10 || u.Fetches != 11 {
		t.Fatalf("usage %+v", u)
	}
}

func TestSyncRate(t *testing.T) {
	e := newEnv(t)
	const objects, each = 4, 256 << 10
	for i := range objects {
		e.put(fmt.Sprintf("rate/%d", i), randomBytes(each))
	}
	e.put("toolarge/x", randomBytes(5000))
	c, _ := e.openCache(Options{MaxBytes: 4 << 20})
	up := e.upstream("open-data")
	const capBps = 2 << 20
	var progress atomic.Int64
	start := time.Now()
	rep, err := c.Sync(context.Background(), up, "rate/", SyncOptions{BytesPerSecond: capBps, Progress: func(done, total int64, key string) {
		progress.Add(1)
	}})
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Fetched != objects || rep.Bytes != objects*each || progress.Load() != objects {
		t.Fatalf("report %+v, %d progress calls", rep, progress.Load())
	}
	// The limiter lets its burst through at once and then at most capBps: the
	// bound can only fail if the cap is not applied, however slow the machine.
	burst := int64(64 << 10)
	if rate := float64(rep.Bytes-burst) / elapsed.Seconds(); rate > capBps*1.5 {
		t.Fatalf("synced %d bytes in %v: %.0f B/s over a cap of %d", rep.Bytes, elapsed, rate, capBps)
	}
	t.Logf("synced %d bytes in %v under a cap of %d B/s", rep.Bytes, elapsed, capBps)

	// A prefix larger than the whole cache is refused before anything is fetched.
	small, _ := e.openCache(Options{MaxBytes: 1000})
	rep, err = small.Sync(context.Background(), up, "toolarge/", SyncOptions{})
	if dataport.KindOf(err) != dataport.KindTooLarge || rep.Objects != 1 || e.gets("toolarge/x") != 0 {
		t.Fatalf("too large: %+v %v", rep, err)
	}
}

// TestSyncCancelMidObject: a fetch only a Sync wanted stops with the Sync and
// leaves nothing behind; a client asking for an object a capped Sync is fetching
// gets it at full speed.
func TestSyncCancelMidObject(t *testing.T) {
	e := newEnv(t)
	e.put("slow/a.bin", randomBytes(1<<20))
	c, dir := e.openCache(Options{})
	up := e.upstream("open-data")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.Sync(ctx, up, "slow/", SyncOptions{BytesPerSecond: 64 << 10})
		done <- err
	}()
	for e.gets("slow/a.bin") == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; dataport.KindOf(err) != dataport.KindUnavailable {
		t.Fatalf("cancelled Sync: %v", err)
	}
	waitFilling(t, c, 0)
	if _, ok := c.Cached(up, "slow/a.bin"); ok {
		t.Fatal("cached by a cancelled Sync")
	}
	assertNoTemp(t, dir)

	// At 64 KiB/s the object takes 16 s; a client joining lifts the cap.
	done2 := make(chan SyncReport, 1)
	go func() {
		rep, _ := c.Sync(context.Background(), up, "slow/", SyncOptions{BytesPerSecond: 64 << 10})
		done2 <- rep
	}()
	waitFilling(t, c, 1)
	start := time.Now()
	if got := get(t, c, up, "slow/a.bin", 0, -1); !bytes.Equal(got, e.data["slow/a.bin"]) {
		t.Fatal("differs")
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Fatalf("a client joining a capped Sync waited %v", d)
	}
	if rep := <-done2; rep.Fetched != 1 {
		t.Fatalf("report %+v", rep)
	}
	if n := e.gets("slow/a.bin"); n != 2 {
		t.Fatalf("%d GETs, want 2 (one cancelled, one joined)", n)
	}
}

func waitFilling(t *testing.T, c *Cache, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for c.Usage().Filling != n {
		if time.Now().After(deadline) {
			t.Fatalf("fills in flight: %d, want %d", c.Usage().Filling, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestSyncStopsOnClose(t *testing.T) {
	e := newEnv(t)
	for i := range 5 {
		e.put(fmt.Sprintf("close/%d", i), randomBytes(256<<10))
	}
	c, dir := e.openCache(Options{})
	up := e.upstream("open-data")
	done := make(chan error, 1)
	var rep SyncReport
	go func() {
		var err error
		rep, err = c.Sync(context.Background(), up, "close/", SyncOptions{BytesPerSecond: 64 << 10, Concurrency: 2})
		done <- err
	}()
	waitFilling(t, c, 2)
	c.Close()
	if err := <-done; dataport.KindOf(err) != dataport.KindUnavailable || !strings.Contains(err.Error(), "shutting down") {
		t.Fatalf("Sync on Close: %v", err)
	}
	if len(rep.Failed) != 0 || rep.Fetched != 0 {
		t.Fatalf("report %+v", rep)
	}
	assertNoTemp(t, dir)
}
