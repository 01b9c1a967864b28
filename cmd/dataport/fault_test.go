package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/dataport/dataport/blob"
	"github.com/dataport/dataport/internal/faultproxy"
	"github.com/dataport/dataport/internal/fulldisk"
	"github.com/dataport/dataport/internal/testenv"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
)

// Faults: the exchange's dependencies fail under it for real — PostgreSQL goes away
// and comes back, the disk fills up, the S3 store breaks off an upload — and the
// server answers every request promptly with 503 problem+json and Retry-After
// (never a 500, never a hang, never a crash), acknowledges nothing it did not keep,
// and serves again by itself once the dependency is back.

// faultClient answers within a minute or counts as a hang: the bound only catches a
// server that stopped answering, it measures no speed.
var faultClient = &http.Client{Timeout: time.Minute}

type faultAnswer struct {
	code int
	body []byte
	hdr  http.Header
}

func faultDo(method, url, key, ctype string, body io.Reader, headers ...string) (faultAnswer, error) {
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return faultAnswer{}, err
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := faultClient.Do(req)
	if err != nil {
		return faultAnswer{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return faultAnswer{res.StatusCode, b, res.Header}, err
}

// faultUnavailable checks that a answers 503 as RFC 9457 problem+json, with a
// Retry-After (RFC 9110 section 10.2.3) of whole seconds.
func faultUnavailable(a faultAnswer) error {
	if a.code != http.StatusServiceUnavailable {
		return fmt.Errorf("status %d, want 503: %s", a.code, a.body)
	}
	if ct := a.hdr.Get("Content-Type"); ct != "application/problem+json" {
		return fmt.Errorf("503 with Content-Type %q, want application/problem+json", ct)
	}
	if s, err := strconv.Atoi(a.hdr.Get("Retry-After")); err != nil || s <= 0 {
		return fmt.Errorf("503 with Retry-After %q, want seconds", a.hdr.Get("Retry-After"))
	}
	var p struct{ Status int }
	if err := json.Unmarshal(a.body, &p); err != nil || p.Status != http.StatusServiceUnavailable {
		return fmt.Errorf("503 body is not a problem: %s", a.body)
	}
	return nil
}

var faultVKeyPattern = regexp.MustCompile(`log_vkey=(\S+)`)

func faultCheckpointSize(t *testing.T, url string) int64 {
	t.Helper()
	a, err := faultDo("GET", url+"/log/checkpoint", "", "", nil)
	if err != nil || a.code != http.StatusOK {
		return -1
	}
	lines := strings.Split(string(a.body), "\n")
	if len(lines) < 2 {
		return -1
	}
	n, _ := strconv.ParseInt(lines[1], 10, 64)
	return n
}

// TestServeDatabaseAwayAndBack runs the server on PostgreSQL through a TCP proxy
// while clients create and list API keys. The proxy cuts every connection and
// refuses new ones for a few seconds, then lets them through again.
func TestServeDatabaseAwayAndBack(t *testing.T) {
	dsn, err := url.Parse(storetest.DSN(t, store.Postgres))
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := faultproxy.ListenTCP(dsn.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	dsn.Host = proxy.Addr()
	r := start(t, []string{"serve", "-addr", "127.0.0.1:0", "-data", t.TempDir(), "-log-format", "text"}, map[string]string{"DATAPORT_DB": dsn.String()})
	operator := regexp.MustCompile(`dp\.key_\S+`).FindString(r.stdout.String())
	vkey := faultVKeyPattern.FindStringSubmatch(r.stderr.String())[1]
	me := participantOf(t, r.url, operator)
	keysURL := r.url + "/api/v1/participants/" + me + "/api-keys"

	const (
		before = iota
		away
		back
	)
	var mu sync.Mutex
	phase := before
	acked := map[string]int{}  // key id → the phase it was acknowledged in
	answers := map[int][]int{} // phase → the statuses answered in it
	var faults []string        // what no phase may faultAnswer
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				p := phase
				mu.Unlock()
				var a faultAnswer
				var err error
				if i%2 == 0 {
					a, err = faultDo("POST", keysURL, operator, "application/json", strings.NewReader(fmt.Sprintf(`{"name":"fault %d-%d"}`, w, i)))
				} else {
					a, err = faultDo("GET", keysURL, operator, "", nil)
				}
				mu.Lock()
				switch {
				case err != nil:
					faults = append(faults, fmt.Sprintf("no faultAnswer: %v", err))
				case a.code == http.StatusCreated:
					var k struct{ Key struct{ ID string } }
					json.Unmarshal(a.body, &k)
					acked[k.Key.ID] = p
				case a.code == http.StatusOK:
				case a.code == http.StatusServiceUnavailable:
					if err := faultUnavailable(a); err != nil {
						faults = append(faults, err.Error())
					}
				default:
					faults = append(faults, fmt.Sprintf("%d %s", a.code, a.body))
				}
				answers[p] = append(answers[p], a.code)
				mu.Unlock()
			}
		}()
	}
	count := func(p, code int) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, c := range answers[p] {
			if c == code {
				n++
			}
		}
		return n
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(2 * time.Minute); !cond(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				close(stop)
				wg.Wait()
				t.Fatalf("waiting for %s; answers %v; faults %q", what, answers, faults)
			}
		}
	}
	waitFor("writes before the outage", func() bool { return count(before, http.StatusCreated) >= 20 })
	sizeBefore := faultCheckpointSize(t, r.url)

	mu.Lock()
	phase = away
	mu.Unlock()
	proxy.Down()
	// A few seconds away: long enough for the log integrator's and the background
	// jobs' rounds to meet the outage too.
	downSince := time.Now()
	waitFor("503s during the outage", func() bool {
		return count(away, http.StatusServiceUnavailable) >= 20 && time.Since(downSince) >= 3*time.Second
	})
	if a, err := faultDo("GET", r.url+"/readyz", "", "", nil); err != nil || faultUnavailable(a) != nil {
		t.Errorf("/readyz with the database away: %v %v", a.code, err)
	}
	if a, err := faultDo("GET", r.url+"/healthz", "", "", nil); err != nil || a.code != http.StatusOK {
		t.Errorf("/healthz with the database away: %d %v (the process is alive)", a.code, err)
	}

	if err := proxy.Up(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	phase = back
	mu.Unlock()
	waitFor("writes after the database returned", func() bool { return count(back, http.StatusCreated) >= 20 })
	close(stop)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	for _, f := range faults {
		t.Errorf("answered: %s", f)
	}
	// Once the database is back, requests succeed from the first: none of those
	// begun after it returned fails (the pool and the committer dropped the
	// connections the outage broke).
	if n := faultCount(answers[back], http.StatusServiceUnavailable); n > 0 {
		t.Errorf("%d requests begun after the database returned answered 503", n)
	}
	if a, err := faultDo("GET", r.url+"/readyz", "", "", nil); err != nil || a.code != http.StatusOK {
		t.Errorf("/readyz after the database returned: %d %v", a.code, err)
	}
	a, err := faultDo("GET", keysURL, operator, "", nil)
	if err != nil || a.code != http.StatusOK {
		t.Fatalf("list keys after: %d %v", a.code, err)
	}
	var list struct{ Items []struct{ ID string } }
	json.Unmarshal(a.body, &list)
	have := map[string]bool{}
	for _, k := range list.Items {
		have[k.ID] = true
	}
	for id, p := range acked {
		if !have[id] {
			t.Errorf("key %s acknowledged in phase %d is lost", id, p)
		}
	}
	// The log integrator went on by itself: the log grows past the filings of the
	// keys created after the outage, and verifies entry by entry.
	want := sizeBefore + int64(faultCount(answers[back], http.StatusCreated))
	for deadline := time.Now().Add(time.Minute); faultCheckpointSize(t, r.url) < want; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the log is at %d after the database returned, want at least %d", faultCheckpointSize(t, r.url), want)
		}
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"verify", "-key", vkey, "-entries", r.url + "/log"}, env(nil), &out, &out); err != nil {
		t.Fatalf("verify after the outage: %v\n%s", err, out.String())
	}
	t.Logf("%d answers before, %d during (%d × 503), %d after the outage; %d keys acknowledged, all kept; log at %d",
		len(answers[before]), len(answers[away]), faultCount(answers[away], 503), len(answers[back]), len(acked), faultCheckpointSize(t, r.url))
	r.stop(t)
}

func faultCount(codes []int, code int) int {
	n := 0
	for _, c := range codes {
		if c == code {
			n++
		}
	}
	return n
}

// faultSupplierProduct registers a verified domestic supplier and lets it list a product,
// whose first revision takes files; it returns the supplier's client and the product.
func faultSupplierProduct(t *testing.T, url, operator string) (client, string) {
	t.Helper()
	op := client{t, url, operator}
	uscc, _ := registry.CompleteUSCC("91310000MA1K4LXR0")
	p := op.call("POST", "/api/v1/participants", map[string]any{"legal_name": map[string]any{"zh": "上海测试数据有限公司"},
		"jurisdiction": "CN", "kind": "domestic", "uscc": uscc, "roles": []string{"supplier"}})
	id := p["id"].(string)
	op.call("POST", "/api/v1/participants/"+id+"/kyc", map[string]any{"status": "verified"})
	supplier := client{t, url, op.call("POST", "/api/v1/participants/"+id+"/api-keys", map[string]any{"name": "test"})["token"].(string)}
	report := supplier.call("POST", "/api/v1/attachments?name=assessment.pdf", []byte("%PDF compliance assessment"))
	prod := supplier.call("POST", "/api/v1/products", map[string]any{"supplier_id": id, "details": map[string]any{
		"type": "dataset", "title": map[string]any{"zh": "港口吞吐量", "en": "Port throughput"}, "summary": map[string]any{"en": "Monthly"},
		"category": "logistics", "delivery_modes": []string{"file"}, "scenarios": []string{"research"}, "source": "enterprise",
		"grade": "general", "sublevel": 1, "pi_subjects": 0, "sensitive_pi_subjects": 0, "origin_jurisdiction": "CN",
		"rights":      map[string]any{"holding": true, "processing_use": true, "product_operation": true},
		"price_plans": []any{map[string]any{"kind": "one_off", "price": map[string]any{"amount": 100_000, "currency": "CNY"}}},
		"attachments": []any{map[string]any{"kind": "compliance_report", "sha256": report["sha256"]}}}})
	return supplier, prod["id"].(string)
}

func faultRevisionFiles(t *testing.T, c client, product string) []string {
	t.Helper()
	var out []string
	for _, f := range c.call("GET", "/api/v1/products/"+product+"/revisions/1/files", nil)["items"].([]any) {
		out = append(out, f.(map[string]any)["path"].(string)+" "+f.(map[string]any)["sha256"].(string))
	}
	return out
}

// TestServeDiskFull fills the server's disk — the data folder, where the blobs and
// the staged uploads are, on a small file system of its own — and uploads a file
// bigger than the space left, whole (PUT) and resumably (POST, PATCH). Each answers
// 503 problem+json with Retry-After: the upload was good, the server cannot keep it
// now, and the client should come back; (507 Insufficient Storage, RFC 4918, is a
// WebDAV status that generic clients do not know to retry.) No blob and no temporary
// file is left, the revision's files are unchanged; once space is freed the same
// PUT succeeds and the resumable upload resumes from what the server kept.
func TestServeDiskFull(t *testing.T) {
	if fulldisk.Isolate(t) {
		return
	}
	disk := fulldisk.Mount(t, 24<<20)
	data := filepath.Join(disk, "data")
	db := "sqlite:" + filepath.Join(t.TempDir(), "dataport.db") // the database's own disk is not full
	r := start(t, []string{"serve", "-addr", "127.0.0.1:0", "-data", data, "-db", db, "-log-format", "text"}, nil)
	defer r.stop(t)
	operator := regexp.MustCompile(`dp\.key_\S+`).FindString(r.stdout.String())
	supplier, product := faultSupplierProduct(t, r.url, operator)

	content := make([]byte, 6<<20)
	mrand.NewChaCha8([32]byte{4}).Read(content)
	sum := sha256hex(content)
	filler := filepath.Join(disk, "filler")
	fulldisk.Fill(t, filler, fulldisk.Free(t, disk)-2<<20) // 2 MiB left
	leftovers := func() []string {
		var out []string
		for _, dir := range []string{filepath.Join(data, "blobs", "tmp"), filepath.Join(data, "uploads")} {
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				out = append(out, filepath.Join(filepath.Base(dir), e.Name()))
			}
		}
		if _, err := os.Stat(filepath.Join(data, "blobs", "sha256", sum[:2], sum[2:4], sum)); err == nil {
			out = append(out, "the blob "+sum)
		}
		return out
	}
	put := func() (faultAnswer, error) {
		return faultDo("PUT", r.url+"/api/v1/products/"+product+"/revisions/1/files?path=data/big.bin&sha256="+sum,
			supplier.key, "application/octet-stream", bytes.NewReader(content))
	}

	a, err := put()
	if err != nil {
		t.Fatal(err)
	}
	if err := faultUnavailable(a); err != nil {
		t.Fatalf("PUT of a file bigger than the space left: %v", err)
	}
	if l := leftovers(); len(l) > 0 {
		t.Fatalf("the refused PUT left %q", l)
	}
	if f := faultRevisionFiles(t, supplier, product); len(f) > 0 {
		t.Fatalf("the refused PUT added files: %q", f)
	}

	// Resumably: the declared upload's chunk stops where the disk did.
	up := supplier.call("POST", "/api/v1/products/"+product+"/revisions/1/uploads",
		map[string]any{"path": "data/resumed.bin", "size": len(content), "sha256": sum})
	upload := r.url + "/api/v1/uploads/" + up["id"].(string)
	a, err = faultDo("PATCH", upload, supplier.key, "application/octet-stream", bytes.NewReader(content), "Upload-Offset", "0")
	if err != nil {
		t.Fatal(err)
	}
	if err := faultUnavailable(a); err != nil {
		t.Fatalf("PATCH of a chunk bigger than the space left: %v", err)
	}
	if f := faultRevisionFiles(t, supplier, product); len(f) > 0 {
		t.Fatalf("the refused chunk added files: %q", f)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if a, err = put(); err != nil || a.code >= 300 {
		t.Fatalf("PUT once space is freed: %d %s %v", a.code, a.body, err)
	}
	a, err = faultDo("GET", upload, supplier.key, "", nil)
	if err != nil || a.code != http.StatusOK {
		t.Fatalf("the upload after the disk filled: %d %s %v", a.code, a.body, err)
	}
	offset, err := strconv.ParseInt(a.hdr.Get("Upload-Offset"), 10, 64)
	if err != nil || offset < 0 || offset >= int64(len(content)) {
		t.Fatalf("the upload holds %q bytes", a.hdr.Get("Upload-Offset"))
	}
	a, err = faultDo("PATCH", upload, supplier.key, "application/octet-stream", bytes.NewReader(content[offset:]), "Upload-Offset", strconv.FormatInt(offset, 10))
	if err != nil || a.code >= 300 {
		t.Fatalf("resuming from %d once space is freed: %d %s %v", offset, a.code, a.body, err)
	}
	want := []string{"data/big.bin " + sum, "data/resumed.bin " + sum}
	if f := faultRevisionFiles(t, supplier, product); strings.Join(f, ",") != strings.Join(want, ",") {
		t.Fatalf("files %q, want %q", f, want)
	}
	if l := leftovers(); len(l) != 1 || !strings.HasPrefix(l[0], "the blob ") {
		t.Fatalf("after the uploads: %q, want only the blob", l)
	}
	t.Logf("the resumable upload kept %d bytes when the disk filled", offset)
}

// TestServeS3FailsMidUpload runs the server on an S3 store through a proxy that
// breaks a file's upload off after 1 MiB, or answers its part 503: the PUT answers
// 503 problem+json with Retry-After, the store holds no blob and no multipart upload
// for it (ListMultipartUploads, asked of the server itself), the revision's files are
// unchanged; once the proxy heals the same PUT succeeds.
func TestServeS3FailsMidUpload(t *testing.T) {
	s3URL := os.Getenv("DATAPORT_TEST_S3")
	if s3URL == "" {
		testenv.Missing(t, "DATAPORT_TEST_S3 not set: set it to http://ACCESS:SECRET@host:port/bucket of an S3-compatible server")
	}
	cfg, err := blob.ParseS3URL(s3URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := faultproxy.ListenHTTP("http://" + cfg.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	raw, err := minio.New(cfg.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""), Secure: cfg.Secure, Region: cfg.Region})
	if err != nil {
		t.Fatal(err)
	}
	prefix := "faults/" + strconv.FormatUint(mrand.Uint64(), 36)
	t.Cleanup(func() {
		ctx := context.Background()
		for o := range raw.ListObjectsIter(ctx, cfg.Bucket, minio.ListObjectsOptions{Prefix: prefix + "/", Recursive: true}) {
			if o.Err == nil {
				raw.RemoveObject(ctx, cfg.Bucket, o.Key, minio.RemoveObjectOptions{})
			}
		}
		for u := range raw.ListIncompleteUploads(ctx, cfg.Bucket, prefix+"/", true) {
			if u.Err == nil {
				raw.RemoveIncompleteUpload(ctx, cfg.Bucket, u.Key)
			}
		}
	})
	u, _ := url.Parse(s3URL)
	u.Host = proxy.Addr()
	u.Path = "/" + cfg.Bucket + "/" + prefix
	r := start(t, []string{"serve", "-addr", "127.0.0.1:0", "-data", t.TempDir(), "-blobs", u.String(), "-log-format", "text"}, nil)
	defer r.stop(t)
	operator := regexp.MustCompile(`dp\.key_\S+`).FindString(r.stdout.String())
	supplier, product := faultSupplierProduct(t, r.url, operator)

	content := make([]byte, 3<<20)
	mrand.NewChaCha8([32]byte{5}).Read(content)
	sum := sha256hex(content)
	stored := func() []string {
		var out []string
		ctx := context.Background()
		for o := range raw.ListObjectsIter(ctx, cfg.Bucket, minio.ListObjectsOptions{Prefix: prefix + "/", Recursive: true}) {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			if strings.Contains(o.Key, "/tmp/") || strings.HasSuffix(o.Key, "/"+sum) {
				out = append(out, strings.TrimPrefix(o.Key, prefix+"/"))
			}
		}
		res, err := minio.Core{Client: raw}.ListMultipartUploads(ctx, cfg.Bucket, prefix+"/", "", "", "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range res.Uploads {
			out = append(out, strings.TrimPrefix(u.Key, prefix+"/")+" (multipart upload)")
		}
		return out
	}
	put := func() (faultAnswer, error) {
		return faultDo("PUT", r.url+"/api/v1/products/"+product+"/revisions/1/files?path=data/s3.bin&sha256="+sum,
			supplier.key, "application/octet-stream", bytes.NewReader(content))
	}
	for _, c := range []struct {
		name  string
		fault faultproxy.Fault
	}{
		{"cut after 1 MiB", faultproxy.Fault{CutAfter: 1 << 20}},
		{"answered 503", faultproxy.Fault{Status: http.StatusServiceUnavailable, Code: "ServiceUnavailable"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := proxy.Faulted.Load()
			proxy.SetFaults(func(r *http.Request) faultproxy.Fault {
				if r.Method == http.MethodPut && r.URL.Query().Get("partNumber") != "" {
					return c.fault
				}
				return faultproxy.Fault{}
			})
			a, err := put()
			proxy.SetFaults(nil)
			if err != nil {
				t.Fatal(err)
			}
			if proxy.Faulted.Load() == before {
				t.Fatal("no fault was injected: the test does not test")
			}
			if err := faultUnavailable(a); err != nil {
				t.Fatalf("PUT while the store fails: %v", err)
			}
			if l := stored(); len(l) > 0 {
				t.Fatalf("the failed PUT left %q", l)
			}
			if f := faultRevisionFiles(t, supplier, product); len(f) > 0 {
				t.Fatalf("the failed PUT added files: %q", f)
			}
		})
	}
	a, err := put()
	if err != nil || a.code >= 300 {
		t.Fatalf("PUT once the store is healed: %d %s %v", a.code, a.body, err)
	}
	if f := faultRevisionFiles(t, supplier, product); len(f) != 1 || f[0] != "data/s3.bin "+sum {
		t.Fatalf("files %q", f)
	}
	if l := stored(); len(l) != 1 || !strings.HasSuffix(l[0], "/"+sum) {
		t.Fatalf("the store holds %q, want only the blob", l)
	}
}
