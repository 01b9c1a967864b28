package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
)

// syncBuffer is an io.Writer the server goroutine writes and the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

type running struct {
	stdout, stderr *syncBuffer
	done           chan error
	cancel         context.CancelFunc
	url            string
}

var urlPattern = regexp.MustCompile(`http://127\.0\.0\.1:\d+`)

// start runs the command until the test stops it, and waits until it serves.
func start(t *testing.T, args []string, vars map[string]string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan error, 1), cancel: cancel}
	go func() { r.done <- run(ctx, args, env(vars), r.stdout, r.stderr) }()
	deadline := time.Now().Add(120 * time.Second) // the demo seeds its catalogue first; slow under -race
	for time.Now().Before(deadline) {
		select {
		case err := <-r.done:
			t.Fatalf("%v exited early: %v\n%s", args, err, r.stderr)
		default:
		}
		if m := urlPattern.FindString(r.stderr.String()); m != "" && strings.Contains(r.stderr.String(), "msg=serving") {
			r.url = m
			return r
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%v did not start serving:\n%s", args, r.stderr)
	return nil
}

// stop sends the equivalent of SIGTERM and checks the shutdown is clean.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no graceful shutdown within 20 s")
	}
	if !strings.Contains(r.stderr.String(), "msg=stopped") {
		t.Fatalf("no clean stop in the log:\n%s", r.stderr)
	}
}

func get(t *testing.T, url, key string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

var keyPattern = regexp.MustCompile(`(?m)^\s+(\w+)\s+.*?\s(dp\.key_\S+)$`)

func demoKeys(out string) map[string]string {
	keys := map[string]string{}
	for _, m := range keyPattern.FindAllStringSubmatch(out, -1) {
		keys[m[1]] = m[2]
	}
	return keys
}

func TestDemo(t *testing.T) {
	dir := t.TempDir()
	vars := map[string]string{"DATAPORT_DATA_DIR": dir} // the data folder from the environment
	r := start(t, []string{"demo", "-addr", "127.0.0.1:0"}, vars)
	if code, _ := get(t, r.url+"/healthz", ""); code != http.StatusOK {
		t.Fatalf("/healthz: %d", code)
	}
	keys := demoKeys(r.stdout.String())
	for _, role := range []string{"operator", "supplier", "agent", "buyer", "assessor", "financial_institution", "merchant", "regulator"} {
		if keys[role] == "" {
			t.Fatalf("no demo key for %s in:\n%s", role, r.stdout)
		}
	}
	code, body := get(t, r.url+"/api/v1/participants?limit=500", keys["operator"])
	var list struct{ Items []map[string]any }
	json.Unmarshal(body, &list)
	if code != http.StatusOK || len(list.Items) < 16 {
		t.Fatalf("participants: %d, %d items", code, len(list.Items))
	}
	code, body = get(t, r.url+"/api/v1/me", keys["agent"])
	if code != http.StatusOK || !strings.Contains(string(body), "MOFCOM-CBDW") {
		t.Fatalf("the demo agent is not whitelisted: %s", body)
	}
	r.stop(t)

	// A second start reuses the folder: nobody is registered twice, new keys work.
	r = start(t, []string{"demo", "-addr", "127.0.0.1:0"}, vars)
	keys2 := demoKeys(r.stdout.String())
	code, body = get(t, r.url+"/api/v1/participants?limit=500", keys2["operator"])
	var again struct{ Items []map[string]any }
	json.Unmarshal(body, &again)
	if code != http.StatusOK || len(again.Items) != len(list.Items) {
		t.Fatalf("after restart: %d, %d participants, want %d", code, len(again.Items), len(list.Items))
	}
	r.stop(t)
}

func TestServeCreatesTheOperatorOnce(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		dsn := storetest.DSN(t, engine)
		args := []string{"serve", "-addr", "127.0.0.1:0", "-data", t.TempDir(), "-log-format", "text"}
		r := start(t, args, map[string]string{"DATAPORT_DB": dsn})
		key := regexp.MustCompile(`dp\.key_\S+`).FindString(r.stdout.String())
		if key == "" {
			t.Fatalf("first start printed no operator key:\n%s", r.stdout)
		}
		if code, body := get(t, r.url+"/api/v1/me", key); code != http.StatusOK || !strings.Contains(string(body), `"operator"`) {
			t.Fatalf("operator key: %d %s", code, body)
		}
		if code, _ := get(t, r.url+"/readyz", ""); code != http.StatusOK {
			t.Fatalf("/readyz: %d", code)
		}
		r.stop(t)
		r = start(t, args, map[string]string{"DATAPORT_DB": dsn})
		if strings.Contains(r.stdout.String(), "dp.key_") {
			t.Fatal("a second start printed another operator key")
		}
		r.stop(t)
	})
}

func TestAdmin(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	ctx := context.Background()
	if err := run(ctx, []string{"admin", "migrate", "-data", dir}, env(nil), &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "sqlite schema at version") {
		t.Fatalf("migrate: %s", out.String())
	}
	// No operator yet: create-key says so.
	if err := run(ctx, []string{"admin", "create-key", "-data", dir}, env(nil), &out, &errOut); err == nil || !strings.Contains(err.Error(), "no operator") {
		t.Fatalf("create-key without operator: %v", err)
	}
	r := start(t, []string{"serve", "-addr", "127.0.0.1:0", "-data", dir}, nil)
	r.stop(t)
	out.Reset()
	if err := run(ctx, []string{"admin", "create-key", "-data", dir, "-name", "ops laptop", "-expires", "24h"}, env(nil), &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "dp.key_") {
		t.Fatalf("create-key printed %q", out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"admin", "participants", "-data", dir}, env(nil), &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "operator") {
		t.Fatalf("participants: %s", out.String())
	}
	for _, bad := range [][]string{
		{"admin", "create-key", "-data", dir, "-roles", "king"},
		{"admin", "create-key", "-data", dir, "-participant", "prt_nobody"},
		{"admin", "create-key", "-data", dir, "-expires", "-1h"},
		{"admin", "nonsense"},
		{"admin"},
		{"serve", "-log-format", "xml", "-data", dir},
		{"serve", "-db", "mysql://x"},
		{"serve", "-rate-per-key", "-5", "-data", dir},
		{"serve", "-rate-ip-burst", "-1", "-data", dir},
		{"serve", "-trusted-proxies", "10.0.0.0/99", "-data", dir},
		{"serve", "extra"},
		{"bogus"},
		{},
	} {
		if err := run(ctx, bad, env(nil), io.Discard, io.Discard); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"version"}, env(nil), &out, io.Discard); err != nil || !strings.HasPrefix(out.String(), "dataport ") {
		t.Fatalf("version: %q, %v", out.String(), err)
	}
}

var vkeyPattern = regexp.MustCompile(`(?m)^\s+(\S+\+[0-9a-f]{8}\+\S+)$`)

func TestVerifyCommand(t *testing.T) {
	dir := t.TempDir()
	r := start(t, []string{"demo", "-addr", "127.0.0.1:0", "-data", dir}, nil)
	defer r.stop(t)
	m := vkeyPattern.FindStringSubmatch(r.stdout.String())
	if m == nil {
		t.Fatalf("the demo printed no verifier key:\n%s", r.stdout)
	}
	vkey := m[1]
	ctx := context.Background()
	var out, errOut bytes.Buffer
	saved := dir + "/checkpoint.saved"
	if err := run(ctx, []string{"verify", "-key", vkey, "-entries", "-save", saved, r.url + "/log"}, env(nil), &out, &errOut); err != nil {
		t.Fatalf("verify: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "signature verified") || !strings.HasSuffix(out.String(), "OK\n") {
		t.Fatalf("verify printed:\n%s", out.String())
	}

	// A proof bundle from the API verifies offline, and a changed one does not.
	keys := demoKeys(r.stdout.String())
	code, body := get(t, r.url+"/api/v1/filings/3?wait=10", keys["operator"])
	var f struct{ Proof string }
	json.Unmarshal(body, &f)
	if code != http.StatusOK || f.Proof == "" {
		t.Fatalf("filing 3: %d %s", code, body)
	}
	proof := dir + "/3.tlog-proof"
	os.WriteFile(proof, []byte(f.Proof), 0o644)
	out.Reset()
	if err := run(ctx, []string{"verify", "-key", vkey, "-proof", proof}, env(nil), &out, &errOut); err != nil {
		t.Fatalf("verify -proof: %v", err)
	}
	os.WriteFile(proof, []byte(strings.Replace(f.Proof, "index 2", "index 3", 1)), 0o644)
	if err := run(ctx, []string{"verify", "-key", vkey, "-proof", proof}, env(nil), io.Discard, io.Discard); err == nil {
		t.Fatal("a bundle with the wrong index verified")
	}

	// After more filings, the log is consistent with the saved checkpoint.
	req, _ := http.NewRequest("POST", r.url+"/api/v1/participants/"+participantOf(t, r.url, keys["buyer"])+"/api-keys", strings.NewReader(`{"name":"more"}`))
	req.Header.Set("Authorization", "Bearer "+keys["buyer"])
	req.Header.Set("Content-Type", "application/json")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("another filing: %v %v", err, res)
	}
	time.Sleep(300 * time.Millisecond)
	out.Reset()
	if err := run(ctx, []string{"verify", "-key", vkey, "-since", saved, r.url + "/log"}, env(nil), &out, &errOut); err != nil {
		t.Fatalf("verify -since: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "consistent with the earlier checkpoint") {
		t.Fatalf("verify -since printed:\n%s", out.String())
	}

	for _, bad := range [][]string{
		{"verify", r.url + "/log"}, // no key
		{"verify", "-key", "not a key", r.url + "/log"},
		{"verify", "-key", vkey},
		{"verify", "-key", vkey, dir + "/no-such-dir"},
		{"verify", "-key", vkey, r.url + "/nolog"},
		{"verify", "-key", vkey, "-proof", dir + "/missing"},
	} {
		if err := run(ctx, bad, env(nil), io.Discard, io.Discard); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func participantOf(t *testing.T, url, key string) string {
	code, body := get(t, url+"/api/v1/me", key)
	var me struct{ Participant struct{ ID string } }
	json.Unmarshal(body, &me)
	if code != http.StatusOK || me.Participant.ID == "" {
		t.Fatalf("me: %d %s", code, body)
	}
	return me.Participant.ID
}

func TestAdminLogKey(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"admin", "log-key", "-data", dir, "-origin", "exchange.example/log"}, env(nil), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "exchange.example/log+") {
		t.Fatalf("log-key printed %q", out.String())
	}
	if st, err := os.Stat(dir + "/log.key"); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st, err)
	}
	if err := run(context.Background(), []string{"admin", "log-key", "-data", dir, "-origin", "x"}, env(nil), io.Discard, io.Discard); err == nil {
		t.Fatal("log-key overwrote an existing key")
	}
	// serve uses it.
	r := start(t, []string{"serve", "-addr", "127.0.0.1:0", "-data", dir}, nil)
	if !strings.Contains(r.stderr.String(), "log_vkey="+strings.TrimSpace(out.String())) {
		t.Fatalf("serve did not use the key:\n%s", r.stderr)
	}
	r.stop(t)
}
