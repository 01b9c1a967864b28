package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dataport/dataport/blob"
	"github.com/dataport/dataport/internal/testenv"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
)

// TestCrashUnderMixedLoad kills the server with SIGKILL while whole deals, plain
// filings, multi-MiB file uploads (resumable and whole) and merchants' order batches
// run at once, and while an upload's bytes are on the wire. After a restart on the
// same data, everything the server acknowledged is there: each deal in at least the
// state it was acknowledged in, each batch with its rows, each uploaded file with
// its SHA-256, and sealed files download with theirs; an upload cut off resumes; the
// log extends the last checkpoint signed before the kill and verifies entry by
// entry; and `dataport admin check` passes: the books balance, every blob is there,
// and the staging folder holds nothing but open uploads.
func TestCrashUnderMixedLoad(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { crashUnderMixedLoad(t, nil) })
	t.Run("postgres+s3", func(t *testing.T) {
		s3 := os.Getenv("DATAPORT_TEST_S3")
		if os.Getenv(storetest.PostgresEnv) == "" || s3 == "" {
			testenv.Missing(t, "%s and DATAPORT_TEST_S3 not both set: set them to run the crash test on PostgreSQL and S3", storetest.PostgresEnv)
		}
		blobs := strings.TrimSuffix(s3, "/") + "/crash-" + strings.ToLower(rand.Text())
		t.Cleanup(func() { emptyS3(t, blobs) })
		crashUnderMixedLoad(t, []string{"-db", storetest.DSN(t, store.Postgres), "-blobs", blobs})
	})
}

// emptyS3 removes what a test stored under its own prefix.
func emptyS3(t *testing.T, blobs string) {
	ctx := context.Background()
	cfg, err := blob.ParseS3URL(blobs)
	if err != nil {
		t.Log(err)
		return
	}
	s, err := blob.OpenS3(ctx, cfg)
	if err != nil {
		t.Log(err)
		return
	}
	var sums []string
	s.List(ctx, func(i blob.Info) error { sums = append(sums, i.SHA256); return nil })
	for _, sum := range sums {
		s.Delete(ctx, sum)
	}
	s.SweepPending(ctx, time.Now().Add(time.Hour))
}

// startServing runs `dataport serve` in a child process (see TestMain), so that it
// can be killed with SIGKILL.
func startServing(t *testing.T, args []string) *server {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), crashServeEnv+"="+strings.Join(args, " "))
	out := &syncBuffer{}
	cmd.Stdout = out
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logged := &syncBuffer{}
	s := &server{cmd: cmd, out: out, log: logged}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintln(logged, sc.Text())
			if m := urlPattern.FindString(sc.Text()); m != "" && strings.Contains(sc.Text(), "msg=serving") {
				urls <- m
			}
		}
	}()
	select {
	case s.url = <-urls:
	case <-time.After(180 * time.Second): // a guard against hanging, not a measure
		cmd.Process.Kill()
		t.Fatalf("the server did not start:\n%s\n%s", out, logged)
	}
	return s
}

// caller makes requests as one participant; it never fails the test itself, so
// that the load's goroutines can use it.
type caller struct {
	url, key string
}

// raw sends a request; a 429 is sent again after the Retry-After it names, as a
// client of the API's rate limits does (bodies are all seekable here).
func (c caller) raw(method, path string, body io.ReadSeeker, headers ...string) (int, []byte, http.Header, error) {
	for {
		var rd io.Reader
		if body != nil {
			body.Seek(0, io.SeekStart)
			rd = body
		}
		req, err := http.NewRequest(method, c.url+path, rd)
		if err != nil {
			return 0, nil, nil, err
		}
		req.Header.Set("Authorization", "Bearer "+c.key)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil, nil, err
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode == http.StatusTooManyRequests {
			wait, _ := strconv.Atoi(res.Header.Get("Retry-After"))
			time.Sleep(time.Duration(max(wait, 1)) * time.Second)
			continue
		}
		return res.StatusCode, b, res.Header, err
	}
}

// json sends v as JSON (none when nil) and decodes the answer.
func (c caller) json(method, path string, v any, headers ...string) (int, map[string]any, error) {
	var body io.ReadSeeker
	if v != nil {
		b, _ := json.Marshal(v)
		body = bytes.NewReader(b)
		headers = append(headers, "Content-Type", "application/json")
	}
	code, b, _, err := c.raw(method, path, body, headers...)
	if err != nil {
		return 0, nil, err
	}
	var out map[string]any
	json.Unmarshal(b, &out)
	if code >= 300 {
		return code, out, fmt.Errorf("%s %s: %d %s", method, path, code, b)
	}
	return code, out, nil
}

// dealStates orders a deal's states along its happy path.
var dealStates = map[string]int{"REQUESTED": 1, "OFFERED": 2, "ACCEPTED": 3, "AGREED": 4, "VERIFIED": 5, "FINALIZED": 6}

// party is a participant with an API key and a contract signing key.
type party struct {
	id    string
	c     caller
	priv  ed25519.PrivateKey
	keyID string
}

func (p party) sign(doc string) map[string]any {
	return map[string]any{"key_id": p.keyID, "signature": base64.StdEncoding.EncodeToString(ed25519.Sign(p.priv, []byte(doc)))}
}

// mixedWorld is what the load runs against.
type mixedWorld struct {
	op                        caller
	supplier, buyer, merchant party
	attachment                string // the compliance report products cite
	listed                    []listedFile
}

// listedFile is a listed product's sealed file, for deals to download.
type listedFile struct {
	product, path, sha string
}

// acked is what the server acknowledged before the kill.
type acked struct {
	mu         sync.Mutex
	deals      map[string]int    // deal → the furthest state acknowledged
	dealFile   map[string]string // deal → its product's file SHA-256
	downloaded map[string]bool
	batches    map[string]int64 // batch → rows accepted
	keys       []string
	files      []ackedFile
	uploads    map[string]*openUpload // resumable uploads acknowledged in part
	checkpoint []byte
}

type ackedFile struct {
	product, path, sha string
	size               int64
	sealed             bool
}

type openUpload struct {
	product  string
	data     []byte
	received int64
	done     bool
}

func (a *acked) deal(id, state string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if dealStates[state] > a.deals[id] {
		a.deals[id] = dealStates[state]
	}
}

func (a *acked) count() (deals, finalized, downloads, batches, keys, files, sealed int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, s := range a.deals {
		if s == dealStates["FINALIZED"] {
			finalized++
		}
	}
	for _, f := range a.files {
		if f.sealed {
			sealed++
		}
	}
	return len(a.deals), finalized, len(a.downloaded), len(a.batches), len(a.keys), len(a.files), sealed
}

func crashUnderMixedLoad(t *testing.T, extra []string) {
	dir := t.TempDir()
	args := append([]string{"serve", "-addr", "127.0.0.1:0", "-data", dir, "-log-format", "text"}, extra...)
	s := startServing(t, args)
	killed := false
	defer func() {
		if !killed {
			s.kill(t)
		}
	}()
	token := strings.Fields(s.out.String()[strings.Index(s.out.String(), "dp.key_"):])[0]
	w := setUpMixedWorld(t, caller{s.url, token})
	vkey := logVerifierKey(t, dir)

	a := &acked{deals: map[string]int{}, dealFile: map[string]string{}, downloaded: map[string]bool{},
		batches: map[string]int64{}, uploads: map[string]*openUpload{}}
	// Upload requests whose bytes are on the wire; of them, chunks of resumable
	// uploads that are not their last, so that the upload is cut off for sure.
	var inflight, cutOff atomic.Int32
	stop := make(chan struct{})
	stopped := func() bool {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}
	var wg sync.WaitGroup
	worker := func(name string, n int, fn func(w int) error) {
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				for !stopped() {
					if err := fn(i); err != nil {
						if !stopped() && !isCutOff(err) {
							t.Errorf("%s %d under load: %v", name, i, err)
						}
						return
					}
				}
			}(i)
		}
	}
	round := map[string]*atomic.Int64{"deal": {}, "upload": {}, "key": {}, "batch": {}}
	// Whole deals on the listed products, each ending in a download.
	worker("deal", 3, func(i int) error {
		n := round["deal"].Add(1)
		f := w.listed[int(n)%len(w.listed)]
		return w.deal(f, n%2 == 1, func(id, state string) {
			a.deal(id, state)
			a.mu.Lock()
			a.dealFile[id] = f.sha
			a.mu.Unlock()
		}, func(id string) {
			a.mu.Lock()
			a.downloaded[id] = true
			a.mu.Unlock()
		})
	})
	// Draft products with a multi-MiB file each, uploaded resumably in 1 MiB chunks
	// or whole, then sealed.
	worker("upload", 2, func(i int) error {
		n := round["upload"].Add(1)
		pid, err := w.newProduct(fmt.Sprintf("load %d", n))
		if err != nil {
			return err
		}
		data := make([]byte, 3<<20+int(n))
		rand.Read(data)
		sum := sha256hex(data)
		if n%2 == 0 {
			_, u, err := w.supplier.c.json("POST", "/api/v1/products/"+pid+"/revisions/1/uploads", map[string]any{"path": "data.bin", "size": len(data), "sha256": sum})
			if err != nil {
				return err
			}
			up := &openUpload{product: pid, data: data}
			id := u["id"].(string)
			a.mu.Lock()
			a.uploads[id] = up
			a.mu.Unlock()
			for off := 0; off < len(data); off += 1 << 20 {
				last := off+1<<20 >= len(data)
				inflight.Add(1)
				if !last {
					cutOff.Add(1)
				}
				code, b, _, err := w.supplier.c.raw("PATCH", "/api/v1/uploads/"+id, bytes.NewReader(data[off:min(off+1<<20, len(data))]),
					"Upload-Offset", fmt.Sprint(off), "Content-Type", "application/octet-stream")
				inflight.Add(-1)
				if !last {
					cutOff.Add(-1)
				}
				if err != nil {
					return err
				}
				if code != http.StatusOK {
					return fmt.Errorf("PATCH upload %s at %d: %d %s", id, off, code, b)
				}
				a.mu.Lock()
				up.received = int64(min(off+1<<20, len(data)))
				up.done = up.received == int64(len(data))
				a.mu.Unlock()
			}
		} else {
			inflight.Add(1)
			code, b, _, err := w.supplier.c.raw("PUT", "/api/v1/products/"+pid+"/revisions/1/files?path=data.bin&sha256="+sum, bytes.NewReader(data),
				"Content-Type", "application/octet-stream")
			inflight.Add(-1)
			if err != nil {
				return err
			}
			if code != http.StatusOK {
				return fmt.Errorf("PUT file: %d %s", code, b)
			}
		}
		a.mu.Lock()
		a.files = append(a.files, ackedFile{product: pid, path: "data.bin", sha: sum, size: int64(len(data))})
		k := len(a.files) - 1
		a.mu.Unlock()
		if _, _, err := w.supplier.c.json("POST", "/api/v1/products/"+pid+"/revisions/1/manifest", nil); err != nil {
			return err
		}
		a.mu.Lock()
		a.files[k].sealed = true
		a.mu.Unlock()
		return nil
	})
	// Plain filings: API keys.
	worker("key", 2, func(i int) error {
		n := round["key"].Add(1)
		_, k, err := w.op.json("POST", "/api/v1/participants/"+w.buyer.id+"/api-keys", map[string]any{"name": fmt.Sprintf("load %d", n)})
		if err != nil {
			return err
		}
		a.mu.Lock()
		a.keys = append(a.keys, k["key"].(map[string]any)["id"].(string))
		a.mu.Unlock()
		return nil
	})
	// Merchants' order batches, 200 orders each.
	at := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	worker("batch", 2, func(i int) error {
		n := round["batch"].Add(1)
		var csv strings.Builder
		csv.WriteString("order_id,shop,ordered_at,amount,currency,status\n")
		for j := 0; j < 200; j++ {
			fmt.Fprintf(&csv, "B%d-%d,A100,%s,%d.%02d,CNY,paid\n", n, j, at, 10+j, j%100)
		}
		code, b, _, err := w.merchant.c.raw("POST", "/api/v1/merchants/"+w.merchant.id+"/batches?format=csv", strings.NewReader(csv.String()), "Content-Type", "text/csv")
		if err != nil {
			return err
		}
		if code != http.StatusCreated {
			return fmt.Errorf("batch: %d %s", code, b)
		}
		var rep struct {
			ID       string
			Accepted int64
		}
		json.Unmarshal(b, &rep)
		if rep.Accepted != 200 {
			return fmt.Errorf("batch %s: %d of 200 rows accepted: %s", rep.ID, rep.Accepted, b)
		}
		a.mu.Lock()
		a.batches[rep.ID] = rep.Accepted
		a.mu.Unlock()
		return nil
	})
	// A witness keeps the last checkpoint signed.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stopped() {
			if code, b := getQuiet(s.url + "/log/checkpoint"); code == http.StatusOK {
				a.mu.Lock()
				a.checkpoint = b
				a.mu.Unlock()
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()

	// Kill once every kind of work has been acknowledged and while an upload's bytes
	// are on the wire.
	begin := time.Now()
	for {
		deals, finalized, downloads, batches, keys, files, sealed := a.count()
		if time.Since(begin) > 3*time.Second && finalized >= 2 && downloads >= 1 && batches >= 3 && keys >= 10 && sealed >= 2 && cutOff.Load() > 0 {
			break
		}
		if time.Since(begin) > 5*time.Minute || t.Failed() { // a guard against hanging, not a measure
			close(stop)
			t.Fatalf("the load did not get going: %d deals (%d finalized, %d downloaded), %d batches, %d keys, %d files (%d sealed)",
				deals, finalized, downloads, batches, keys, files, sealed)
		}
		time.Sleep(time.Millisecond)
	}
	onWire := inflight.Load()
	s.kill(t)
	killed = true
	close(stop)
	wg.Wait()
	deals, finalized, downloads, batches, keys, files, sealed := a.count()
	t.Logf("acknowledged before SIGKILL: %d deals (%d finalized, %d downloaded), %d batches, %d keys, %d files (%d sealed); %d uploads on the wire",
		deals, finalized, downloads, batches, keys, files, sealed, onWire)
	if a.checkpoint == nil {
		t.Fatal("no checkpoint seen before the kill")
	}
	// What a process killed between an upload's staging and its row leaves behind:
	// the restart clears it (delivery.New), as it clears any other.
	stray := filepath.Join(dir, "uploads", "upl_killed")
	os.WriteFile(stray, []byte("half"), 0o640)
	os.WriteFile(stray+".state.tmp", []byte("{"), 0o640)

	s = startServing(t, args)
	defer s.kill(t)
	w.setURL(s.url)
	for _, f := range []string{stray, stray + ".state.tmp"} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("the restart left %s in the staging folder (%v)", f, err)
		}
	}

	// Every deal is in at least the state acknowledged; those finalized download.
	for id, state := range a.deals {
		_, d, err := w.buyer.c.json("GET", "/api/v1/deals/"+id, nil)
		if err != nil {
			t.Errorf("acknowledged deal %s: %v", id, err)
			continue
		}
		if got := d["state"].(string); dealStates[got] < state {
			t.Errorf("deal %s is %s, but was acknowledged further", id, got)
		}
		if state == dealStates["FINALIZED"] && !a.downloaded[id] {
			if err := w.download(id, a.dealFile[id]); err != nil {
				t.Errorf("finalized deal %s after the restart: %v", id, err)
			}
		}
	}
	// Every batch is there with its rows.
	have := map[string]int64{}
	for before := ""; ; {
		_, page, err := w.merchant.c.json("GET", "/api/v1/merchants/"+w.merchant.id+"/batches?limit=1000&before="+before, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range page["items"].([]any) {
			b := b.(map[string]any)
			have[b["id"].(string)] = int64(b["accepted"].(float64))
		}
		next, _ := page["next"].(string)
		if next == "" {
			break
		}
		before = next
	}
	for id, n := range a.batches {
		if have[id] != n {
			t.Errorf("acknowledged batch %s: %d rows after the restart, %d acknowledged", id, have[id], n)
		}
	}
	// Every key is there.
	_, body := get(t, s.url+"/api/v1/participants/"+w.buyer.id+"/api-keys?limit=1000", token)
	for _, id := range a.keys {
		if !strings.Contains(string(body), `"`+id+`"`) {
			t.Errorf("acknowledged key %s is lost", id)
		}
	}
	// Every uploaded file is in its revision with its SHA-256; those sealed, in the
	// sealed manifest.
	for _, f := range a.files {
		_, b, _, err := w.supplier.c.raw("GET", "/api/v1/products/"+f.product+"/revisions/1/files", nil)
		if err != nil || !strings.Contains(string(b), f.sha) || !strings.Contains(string(b), fmt.Sprintf(`"size":%d`, f.size)) {
			t.Errorf("acknowledged file %s of %s (%s) after the restart: %v %s", f.path, f.product, f.sha, err, b)
		}
		if f.sealed {
			if _, m, err := w.supplier.c.json("GET", "/api/v1/products/"+f.product+"/revisions/1/manifest", nil); err != nil || !strings.Contains(fmt.Sprint(m), f.sha) {
				t.Errorf("sealed manifest of %s after the restart: %v %v", f.product, err, m)
			}
		}
	}
	// A sealed file uploaded under load is bought and downloads with its SHA-256.
	for _, f := range a.files {
		if f.sealed {
			if err := w.list(f.product); err != nil {
				t.Fatalf("listing %s after the restart: %v", f.product, err)
			}
			if err := w.deal(listedFile{f.product, f.path, f.sha}, false, func(string, string) {}, func(string) {}); err != nil {
				t.Errorf("a deal for %s, uploaded before the crash: %v", f.product, err)
			}
			break
		}
	}
	// Uploads cut off resume from what the server holds, and complete.
	resumed := 0
	for id, u := range a.uploads {
		if u.done {
			continue
		}
		_, st, err := w.supplier.c.json("GET", "/api/v1/uploads/"+id, nil)
		if err != nil {
			t.Errorf("upload %s after the restart: %v", id, err)
			continue
		}
		got := int64(st["received"].(float64))
		if got < u.received {
			t.Errorf("upload %s holds %d bytes after the restart, %d were acknowledged", id, got, u.received)
			continue
		}
		if st["state"] != "open" {
			continue // its last chunk landed as the server died
		}
		code, b, _, err := w.supplier.c.raw("PATCH", "/api/v1/uploads/"+id, bytes.NewReader(u.data[got:]), "Upload-Offset", fmt.Sprint(got), "Content-Type", "application/octet-stream")
		if err != nil || code != http.StatusOK || !strings.Contains(string(b), sha256hex(u.data)) {
			t.Errorf("resuming upload %s from %d: %d %v %s", id, got, code, err, b)
		}
		resumed++
	}
	if resumed == 0 {
		t.Error("no upload cut off by the kill was resumed")
	}

	// The log extends the last checkpoint seen before the kill, and verifies.
	since := filepath.Join(t.TempDir(), "before-crash.checkpoint")
	os.WriteFile(since, a.checkpoint, 0o644)
	var out bytes.Buffer
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		out.Reset()
		err := run(context.Background(), []string{"verify", "-key", vkey, "-entries", "-since", since, s.url + "/log"}, env(nil), &out, &out)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("verify after the crash: %v\n%s", err, out.String())
		}
	}
	// The whole data is consistent, the books balanced; nothing is left in the
	// staging folder but open uploads, nothing in the spool.
	out.Reset()
	err := run(context.Background(), append([]string{"admin", "check", "-contents", "-data", dir}, extra...), env(nil), &out, &out)
	if err != nil {
		t.Fatalf("admin check after the crash: %v\n%s", err, out.String())
	}
	for _, l := range strings.Split(out.String(), "\n") {
		if (strings.Contains(l, "upload staging") || strings.Contains(l, "ingest spool")) && strings.Contains(l, "younger") {
			t.Errorf("left over after the restart: %s", l)
		}
	}
	if !strings.Contains(out.String(), "ok    books: every posting balances; the trial balance is zero in CNY") {
		t.Errorf("admin check:\n%s", out.String())
	}
	t.Logf("after the restart: %d uploads resumed\n%s", resumed, out.String())
}

// isCutOff reports whether err is the server going away mid-request.
func isCutOff(err error) bool {
	s := err.Error()
	for _, m := range []string{"connection refused", "connection reset", "EOF", "broken pipe"} {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}

// logVerifierKey reads the log's verifier key from the signer key in the data
// folder.
func logVerifierKey(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "log.key"))
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := ledger.VerifierKey(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return vkey
}

func (w *mixedWorld) setURL(url string) {
	for _, c := range []*caller{&w.op, &w.supplier.c, &w.buyer.c, &w.merchant.c} {
		c.url = url
	}
}

// setUpMixedWorld registers a supplier, a buyer with money and a merchant with a
// shop, and lists two products with a sealed 2 MiB file each.
func setUpMixedWorld(t *testing.T, op caller) *mixedWorld {
	t.Helper()
	w := &mixedWorld{op: op}
	member := func(name, first17 string, roles ...string) party {
		_, p, err := op.json("POST", "/api/v1/participants", map[string]any{"legal_name": map[string]any{"zh": name},
			"jurisdiction": "CN", "kind": "domestic", "uscc": mustUSCC(t, first17), "roles": roles})
		if err != nil {
			t.Fatal(err)
		}
		id := p["id"].(string)
		if _, _, err := op.json("POST", "/api/v1/participants/"+id+"/kyc", map[string]any{"status": "verified"}); err != nil {
			t.Fatal(err)
		}
		_, k, err := op.json("POST", "/api/v1/participants/"+id+"/api-keys", map[string]any{"name": "test"})
		if err != nil {
			t.Fatal(err)
		}
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		_, sk, err := op.json("POST", "/api/v1/participants/"+id+"/signing-keys", map[string]any{"name": "contracts", "public_key": base64.StdEncoding.EncodeToString(pub)})
		if err != nil {
			t.Fatal(err)
		}
		return party{id: id, c: caller{op.url, k["token"].(string)}, priv: priv, keyID: sk["id"].(string)}
	}
	w.supplier = member("上海浦江数据服务有限公司", "91310101MA1G8PJ03", "supplier")
	w.buyer = member("华东证券股份有限公司", "91310000132200821", "buyer")
	w.merchant = member("嘉兴冻品鲜生食品有限公司", "91330402MA2JD7F10", "merchant")
	if _, _, err := op.json("POST", "/api/v1/participants/"+w.buyer.id+"/funding", map[string]any{"amount": map[string]any{"amount": 1_000_000_000_000, "currency": "CNY"}},
		"Idempotency-Key", "stmt-1"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.merchant.c.json("POST", "/api/v1/merchants/"+w.merchant.id+"/shops", map[string]any{"platform": "taobao", "external_id": "A100", "name": "冻品鲜生旗舰店"}); err != nil {
		t.Fatal(err)
	}
	code, b, _, err := w.supplier.c.raw("POST", "/api/v1/attachments?name=assessment.pdf", strings.NewReader("%PDF compliance assessment"), "Content-Type", "application/pdf")
	if err != nil || code != http.StatusCreated {
		t.Fatalf("attachment: %d %v %s", code, err, b)
	}
	var att struct{ SHA256 string }
	json.Unmarshal(b, &att)
	w.attachment = att.SHA256
	for i := 0; i < 2; i++ {
		pid, err := w.newProduct(fmt.Sprintf("listed %d", i))
		if err != nil {
			t.Fatal(err)
		}
		data := make([]byte, 2<<20+i)
		rand.Read(data)
		if code, b, _, err := w.supplier.c.raw("PUT", "/api/v1/products/"+pid+"/revisions/1/files?path=data.bin", bytes.NewReader(data), "Content-Type", "application/octet-stream"); err != nil || code != http.StatusOK {
			t.Fatalf("put file: %d %v %s", code, err, b)
		}
		if _, _, err := w.supplier.c.json("POST", "/api/v1/products/"+pid+"/revisions/1/manifest", nil); err != nil {
			t.Fatal(err)
		}
		if err := w.list(pid); err != nil {
			t.Fatal(err)
		}
		w.listed = append(w.listed, listedFile{pid, "data.bin", sha256hex(data)})
	}
	return w
}

// newProduct creates a draft product of the supplier's.
func (w *mixedWorld) newProduct(title string) (string, error) {
	_, p, err := w.supplier.c.json("POST", "/api/v1/products", map[string]any{"supplier_id": w.supplier.id, "details": map[string]any{
		"type": "dataset", "title": map[string]any{"zh": "港口吞吐量 " + title, "en": "Port throughput " + title}, "summary": map[string]any{"en": "Monthly"},
		"category": "transport", "delivery_modes": []string{"file"}, "scenarios": []string{"research"}, "source": "enterprise",
		"grade": "general", "sublevel": 1, "pi_subjects": 0, "sensitive_pi_subjects": 0, "origin_jurisdiction": "CN",
		"rights":      map[string]any{"holding": true, "processing_use": true, "product_operation": true},
		"price_plans": []any{map[string]any{"kind": "one_off", "price": map[string]any{"amount": 2_000_000, "currency": "CNY"}}},
		"attachments": []any{map[string]any{"kind": "compliance_report", "sha256": w.attachment}}}})
	if err != nil {
		return "", err
	}
	return p["id"].(string), nil
}

// list submits a product and has the operator review and approve it.
func (w *mixedWorld) list(pid string) error {
	if _, _, err := w.supplier.c.json("POST", "/api/v1/products/"+pid+"/submit", nil); err != nil {
		return err
	}
	if _, _, err := w.op.json("POST", "/api/v1/products/"+pid+"/review", nil); err != nil {
		return err
	}
	_, _, err := w.op.json("POST", "/api/v1/products/"+pid+"/approve", nil)
	return err
}

// deal runs a whole deal for f — request, (offer and accept,) agree and verify with
// signatures over the contract, finalize — and downloads the file, reporting each
// state the server acknowledged.
func (w *mixedWorld) deal(f listedFile, offer bool, ack func(id, state string), downloaded func(id string)) error {
	_, d, err := w.buyer.c.json("POST", "/api/v1/deals", map[string]any{"product_id": f.product, "plan": 0, "scenario": "research", "purpose": "academic", "delivery_mode": "file"})
	if err != nil {
		return err
	}
	id := d["id"].(string)
	ack(id, d["state"].(string))
	step := func(p party, path string, body any, headers ...string) error {
		_, d, err := p.c.json("POST", "/api/v1/deals/"+id+path, body, headers...)
		if err == nil {
			ack(id, d["state"].(string))
		}
		return err
	}
	if offer {
		if err := step(w.supplier, "/offer", map[string]any{"price": 0}); err != nil {
			return err
		}
		if err := step(w.buyer, "/accept", nil, "Idempotency-Key", "accept-"+id); err != nil {
			return err
		}
	}
	_, c, err := w.supplier.c.json("GET", "/api/v1/deals/"+id+"/contract", nil)
	if err != nil {
		return err
	}
	if err := step(w.supplier, "/agree", w.supplier.sign(c["document"].(string)), "Idempotency-Key", "agree-"+id); err != nil {
		return err
	}
	_, d, err = w.buyer.c.json("GET", "/api/v1/deals/"+id, nil)
	if err != nil {
		return err
	}
	if err := step(w.buyer, "/verify", w.buyer.sign(d["contract"].(string))); err != nil {
		return err
	}
	if err := step(w.supplier, "/finalize", nil); err != nil {
		return err
	}
	if err := w.download(id, f.sha); err != nil {
		return err
	}
	downloaded(id)
	return nil
}

// download fetches a deal's file and checks its SHA-256.
func (w *mixedWorld) download(id, sha string) error {
	code, b, _, err := w.buyer.c.raw("GET", "/api/v1/deals/"+id+"/download?path=data.bin", nil)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("download %s: %d %s", id, code, b)
	}
	if got := sha256hex(b); got != sha {
		return fmt.Errorf("deal %s downloads bytes hashing to %s, not %s", id, got, sha)
	}
	return nil
}
