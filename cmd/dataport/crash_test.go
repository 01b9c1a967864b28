package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The crash test runs the server as a separate process — this test binary, re-executed
// with crashServeEnv set — so that it can be killed with SIGKILL: no deferred
// function, no graceful shutdown, nothing flushed that was not already durable.
const crashServeEnv = "DATAPORT_TEST_CRASH_SERVE"

func TestMain(m *testing.M) {
	if args := os.Getenv(crashServeEnv); args != "" {
		err := run(context.Background(), strings.Fields(args), os.Getenv, os.Stdout, os.Stderr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type server struct {
	cmd  *exec.Cmd
	url  string
	out  *syncBuffer // its standard output
	log  *syncBuffer // its log (standard error)
	keys map[string]string
}

func startProcess(t *testing.T, dir string) *server {
	t.Helper()
	s := startServing(t, []string{"demo", "-addr", "127.0.0.1:0", "-data", dir})
	s.keys = demoKeys(s.out.String())
	return s
}

func (s *server) kill(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	s.cmd.Wait()
}

// postJSON posts body as a well-behaved client does: over its key's rate limit
// (429), it waits as Retry-After says and sends again.
func postJSON(url, key, body string) (int, []byte, error) {
	for tries := 0; ; tries++ {
		req, _ := http.NewRequest("POST", url, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil, err
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		wait, _ := strconv.Atoi(res.Header.Get("Retry-After"))
		if res.StatusCode != http.StatusTooManyRequests || tries == 20 || wait <= 0 {
			return res.StatusCode, b, err
		}
		time.Sleep(time.Duration(min(wait, 5)) * time.Second)
	}
}

// TestCrashLosesNothingAcknowledged kills the server with SIGKILL while 16 clients
// file changes as fast as it takes them, restarts it, and checks that every change
// it acknowledged is there and filed, that the log's new checkpoint extends the last
// one it signed before the crash, and that the whole log verifies.
func TestCrashLosesNothingAcknowledged(t *testing.T) {
	dir := t.TempDir()
	s := startProcess(t, dir)
	vkey := vkeyPattern.FindStringSubmatch(s.out.String())[1]
	operator := s.keys["operator"]
	buyer := participantOf(t, s.url, s.keys["buyer"])

	var mu sync.Mutex
	var acked []string // API key ids the server acknowledged with 201
	var lastCheckpoint []byte
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			writeKeys(t, stop, s.url, operator, buyer, fmt.Sprintf("load %d", w), func() bool { return true }, &mu, &acked)
		}(w)
	}
	// Watch the log as a witness would, keeping the last checkpoint signed.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if code, b := getQuiet(s.url + "/log/checkpoint"); code == http.StatusOK {
				mu.Lock()
				lastCheckpoint = b
				mu.Unlock()
			}
		}
	}()
	// Let the load run for two seconds and until a hundred changes are acknowledged
	// (a busy machine acknowledges fewer in two seconds).
	for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 100 && time.Since(start) >= 2*time.Second || time.Since(start) > 60*time.Second {
			break
		}
	}
	s.kill(t) // mid-flight: requests in progress are cut off
	close(stop)
	wg.Wait()
	mu.Lock()
	n := len(acked)
	mu.Unlock()
	if n < 100 {
		t.Fatalf("only %d changes acknowledged before the crash", n)
	}
	if lastCheckpoint == nil {
		t.Fatal("no checkpoint seen before the crash")
	}

	s = startProcess(t, dir)
	defer s.kill(t)
	// Every acknowledged key is there.
	code, body := get(t, s.url+"/api/v1/participants/"+buyer+"/api-keys", s.keys["operator"])
	if code != http.StatusOK {
		t.Fatalf("list keys: %d", code)
	}
	have := map[string]bool{}
	var list struct{ Items []struct{ ID string } }
	json.Unmarshal(body, &list)
	for _, k := range list.Items {
		have[k.ID] = true
	}
	for _, id := range acked {
		if !have[id] {
			t.Errorf("acknowledged key %s is lost", id)
		}
	}
	// Every acknowledged key is filed.
	filed := filedKeys(t, s.url, s.keys["operator"], buyer)
	for _, id := range acked {
		if !filed[id] {
			t.Errorf("acknowledged key %s has no filing", id)
		}
	}
	// The log after the restart extends the last checkpoint signed before the crash,
	// and verifies entry by entry.
	since := dir + "/before-crash.checkpoint"
	os.WriteFile(since, lastCheckpoint, 0o644)
	var out bytes.Buffer
	deadline := time.Now().Add(30 * time.Second)
	for {
		out.Reset()
		err := run(context.Background(), []string{"verify", "-key", vkey, "-entries", "-since", since, s.url + "/log"}, env(nil), &out, &out)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("verify after the crash: %v\n%s", err, out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("%d changes acknowledged before SIGKILL, all present and filed; %s", n, regexp.MustCompile(`size \d+`).FindString(out.String()))
}

func getQuiet(url string) (int, []byte) {
	res, err := http.Get(url)
	if err != nil {
		return 0, nil
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// writeKeys creates API keys for participant through the server at url, as the
// operator, until stop is closed or the server is gone, adding the id of each key
// the server acknowledged to acked. A request that gets no answer ends it, as an
// error unless gone says the server was killed.
func writeKeys(t *testing.T, stop <-chan struct{}, url, operator, participant, name string, gone func() bool, mu *sync.Mutex, acked *[]string) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		code, body, err := postJSON(url+"/api/v1/participants/"+participant+"/api-keys", operator, fmt.Sprintf(`{"name":"%s-%d"}`, name, i))
		if err != nil {
			if !gone() {
				t.Errorf("%s under load: %v", name, err)
			}
			return
		}
		if code != http.StatusCreated {
			t.Errorf("%s under load: %d %s", name, code, body)
			return
		}
		var k struct{ Key struct{ ID string } }
		json.Unmarshal(body, &k)
		mu.Lock()
		*acked = append(*acked, k.Key.ID)
		mu.Unlock()
	}
}
