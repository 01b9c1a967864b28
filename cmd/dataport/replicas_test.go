package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dataport/dataport/internal/testenv"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
)

// replica is one `dataport serve` process of several on one database.
type replica struct {
	*server
	name string
	dead atomic.Bool // killed: its writers' failures are expected
}

// startReplica runs `dataport <mode>` as a child process (this test binary,
// re-executed) on the shared database, blob store and keys, with a data folder of
// its own for what is local to a process (mirror cache, upload staging, spools).
func startReplica(t *testing.T, name, mode, dsn, blobs, keys string) *replica {
	t.Helper()
	// The child reads its arguments split on spaces: none of these holds one.
	r := &replica{name: name, server: startServing(t, []string{mode, "-addr", "127.0.0.1:0", "-data", filepath.Join(keys, name), "-db", dsn, "-blobs", blobs,
		"-log-key", filepath.Join(keys, "log.key"), "-webhook-key", filepath.Join(keys, "webhook.key")})}
	t.Cleanup(r.kill)
	return r
}

// kill ends the replica with SIGKILL: no deferred function runs, no lock is let go
// but by the operating system and the database noticing the process is gone.
func (r *replica) kill() {
	if r.dead.Swap(true) {
		return
	}
	r.cmd.Process.Kill()
	r.cmd.Wait()
}

// holds tells whether the replica's log says it holds role now: the last line
// about the role says it took it.
func (r *replica) holds(role string) bool {
	lines := strings.Split(r.log.String(), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], "role="+role) {
			return !strings.Contains(lines[i], "msg=\"stopped")
		}
	}
	return false
}

// TestReplicasOneExchange runs three replicas on one PostgreSQL database and one
// S3 bucket, writes through all three at once, kills the log's integrator with
// SIGKILL in the middle, and checks that they behave as one exchange: one
// integrator and one runner of background jobs at a time, taken over when that
// replica dies; every acknowledged change present and filed in one total order;
// every checkpoint any replica served consistent with every other; a suspension
// made on one replica in force at once on another; and the log verifying with
// `dataport verify` afterwards.
func TestReplicasOneExchange(t *testing.T) {
	dsn := storetest.DSN(t, store.Postgres)
	s3 := os.Getenv("DATAPORT_TEST_S3")
	if s3 == "" {
		testenv.Missing(t, "set DATAPORT_TEST_S3 to http://ACCESS:SECRET@host:port/bucket of an S3-compatible server to run the replica test")
	}
	prefix := make([]byte, 6)
	rand.Read(prefix)
	blobs := strings.TrimSuffix(s3, "/") + "/replicas-" + hex.EncodeToString(prefix)
	keys := t.TempDir()

	// The first replica starts alone: it creates the keys and seeds the demo world;
	// the others start on what it made.
	rs := []*replica{startReplica(t, "r1", "demo", dsn, blobs, keys)}
	demo := demoKeys(rs[0].out.String())
	operator := demo["operator"]
	vkey := vkeyPattern.FindStringSubmatch(rs[0].out.String())
	if operator == "" || vkey == nil {
		t.Fatalf("no demo keys from the first replica:\n%s", rs[0].out)
	}
	rs = append(rs, startReplica(t, "r2", "serve", dsn, blobs, keys), startReplica(t, "r3", "serve", dsn, blobs, keys))
	buyer := participantOf(t, rs[1].url, demo["buyer"])

	// One holder of each role among the three.
	holder := func(role string, among []*replica) *replica {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			var held []*replica
			for _, r := range among {
				if r.holds(role) {
					held = append(held, r)
				}
			}
			if len(held) > 1 {
				t.Fatalf("%s is held by %s and %s at once", role, held[0].name, held[1].name)
			}
			if len(held) == 1 {
				return held[0]
			}
			if time.Now().After(deadline) {
				t.Fatalf("no replica took %s", role)
			}
		}
	}
	integrator := holder(ledger.IntegratorRole, rs)
	jobsBefore := holder(jobsRole, rs)

	// A suspension made through one replica holds at once on the others: nothing
	// about a participant is cached per process.
	if code, body, err := postJSON(rs[1].url+"/api/v1/participants/"+buyer+"/suspend", operator, `{"reason":"replica test"}`); err != nil || code != http.StatusOK {
		t.Fatalf("suspend through r2: %d %s %v", code, body, err)
	}
	for _, r := range rs {
		code, body := get(t, r.url+"/api/v1/me", demo["buyer"])
		var me struct{ Participant struct{ Status string } }
		json.Unmarshal(body, &me)
		if code != http.StatusOK || me.Participant.Status != "suspended" {
			t.Fatalf("%s shows the buyer as %q after its suspension: %d %s", r.name, me.Participant.Status, code, body)
		}
		if code, body, _ := postJSON(r.url+"/api/v1/participants/"+buyer+"/api-keys", demo["buyer"], `{"name":"while suspended"}`); code != http.StatusForbidden {
			t.Fatalf("%s lets the suspended buyer make a key: %d %s", r.name, code, body)
		}
	}
	if code, body, err := postJSON(rs[2].url+"/api/v1/participants/"+buyer+"/resume", operator, `{}`); err != nil || code != http.StatusOK {
		t.Fatalf("resume through r3: %d %s %v", code, body, err)
	}

	// Writes through all three replicas at once, and a watcher keeping every
	// checkpoint each replica serves.
	var mu sync.Mutex
	var acked []string
	checkpoints := map[string]string{} // size → root, over every replica
	var lastBeforeKill []byte
	killed := false
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, r := range rs {
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				writeKeys(t, stop, r.url, operator, buyer, fmt.Sprintf("%s %d", r.name, w), r.dead.Load, &mu, &acked)
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond): // within an anonymous client's rate limit
				}
				code, b := getQuiet(r.url + "/log/checkpoint")
				if code != http.StatusOK {
					continue
				}
				lines := strings.SplitN(string(b), "\n", 4)
				if len(lines) < 4 {
					t.Errorf("%s served a checkpoint without size and root: %q", r.name, b)
					continue
				}
				mu.Lock()
				if root, ok := checkpoints[lines[1]]; ok && root != lines[2] {
					t.Errorf("two checkpoints of size %s: roots %s and %s", lines[1], root, lines[2])
				}
				checkpoints[lines[1]] = lines[2]
				if !killed {
					lastBeforeKill = b
				}
				mu.Unlock()
			}
		}()
	}
	waitAcked := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(120 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			mu.Lock()
			have := len(acked)
			mu.Unlock()
			if have >= n {
				return
			}
			if time.Now().After(deadline) {
				var logs strings.Builder
				for _, r := range rs {
					fmt.Fprintf(&logs, "--- %s:\n%s\n", r.name, tail(r.log.String(), 3000))
				}
				t.Fatalf("only %d changes acknowledged, want %d\n%s", have, n, logs.String())
			}
		}
	}
	waitAcked(150)
	mu.Lock()
	killed = true
	before := len(acked)
	mu.Unlock()
	integrator.kill() // mid-load: its requests in flight are cut off
	var survivors []*replica
	for _, r := range rs {
		if r != integrator {
			survivors = append(survivors, r)
		}
	}
	// The survivors keep taking writes while one of them takes over the log.
	next := holder(ledger.IntegratorRole, survivors)
	if jobsBefore == integrator {
		holder(jobsRole, survivors)
	} else if !jobsBefore.holds(jobsRole) {
		t.Fatalf("%s gave up the background jobs though it lives", jobsBefore.name)
	}
	waitAcked(before + 150)
	close(stop)
	wg.Wait()
	t.Logf("%d changes acknowledged, %d of them before the integrator %s was killed; %s integrates now", len(acked), before, integrator.name, next.name)

	// The log verifies entry by entry and extends the last checkpoint served
	// before the kill; the survivors serve the same checkpoint once it covers
	// every acknowledged change.
	if lastBeforeKill == nil {
		t.Fatal("no checkpoint served before the kill")
	}
	since := filepath.Join(keys, "before-kill.checkpoint")
	os.WriteFile(since, lastBeforeKill, 0o644)
	filed := map[string]bool{}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		filed = filedKeys(t, survivors[0].url, operator, buyer)
		missing := 0
		for _, id := range acked {
			if !filed[id] {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d acknowledged changes have no filing", missing)
		}
	}
	var served [][]byte
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		served = served[:0]
		for _, r := range survivors {
			_, b := getQuiet(r.url + "/log/checkpoint")
			served = append(served, b)
		}
		var out bytes.Buffer
		err := run(context.Background(), []string{"verify", "-key", vkey[1], "-entries", "-since", since, survivors[1].url + "/log"}, env(nil), &out, &out)
		if err == nil && bytes.Equal(served[0], served[1]) && checkpointSize(served[0]) >= maxSeq(t, survivors[0].url, operator) {
			t.Logf("verified: %s", regexp.MustCompile(`size \d+`).FindString(out.String()))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log after the takeover: verify %v\n%s\nservers serve:\n%s\n%s", err, out.String(), served[0], served[1])
		}
	}
	// Every acknowledged key is there, read through either survivor.
	for _, r := range survivors {
		code, body := get(t, r.url+"/api/v1/participants/"+buyer+"/api-keys", operator)
		if code != http.StatusOK {
			t.Fatalf("%s: list keys: %d %s", r.name, code, body)
		}
		var list struct{ Items []struct{ ID string } }
		json.Unmarshal(body, &list)
		have := map[string]bool{}
		for _, k := range list.Items {
			have[k.ID] = true
		}
		for _, id := range acked {
			if !have[id] {
				t.Errorf("%s: acknowledged key %s is lost", r.name, id)
			}
		}
	}
}

// filedKeys returns the subjects of the api_key.created filings about a participant.
func filedKeys(t *testing.T, url, key, participant string) map[string]bool {
	filed := map[string]bool{}
	after := 0
	for {
		code, body := get(t, fmt.Sprintf("%s/api/v1/filings?subject=%s&type=api_key.created&limit=1000&after=%d", url, participant, after), key)
		var page struct {
			Items []struct {
				Seq      int
				Subjects []string
			}
		}
		json.Unmarshal(body, &page)
		if code != http.StatusOK || len(page.Items) == 0 {
			return filed
		}
		for _, f := range page.Items {
			for _, sub := range f.Subjects {
				filed[sub] = true
			}
			after = f.Seq
		}
	}
}

// maxSeq is the sequence number of the latest filing.
func maxSeq(t *testing.T, url, key string) int64 {
	var seq int64
	for after := int64(0); ; {
		code, body := get(t, fmt.Sprintf("%s/api/v1/filings?limit=1000&after=%d", url, after), key)
		var page struct{ Items []struct{ Seq int64 } }
		json.Unmarshal(body, &page)
		if code != http.StatusOK || len(page.Items) == 0 {
			return seq
		}
		seq = page.Items[len(page.Items)-1].Seq
		after = seq
	}
}

// checkpointSize reads the size line of a checkpoint.
func checkpointSize(b []byte) int64 {
	var n int64
	lines := strings.SplitN(string(b), "\n", 3)
	if len(lines) > 1 {
		fmt.Sscan(lines[1], &n)
	}
	return n
}

// tail is the end of a process's log, for a failure's message.
func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
