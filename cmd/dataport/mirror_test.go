package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/dataport/dataport/internal/testenv"
	"github.com/dataport/dataport/mirror"
	"github.com/dataport/dataport/registry"
)

// These tests run `dataport serve` with its S3 endpoint in-process and read through
// it with real clients: s3cmd, rclone, aws-sdk-go-v2 and `dataport get`. The
// mirror's upstream is a fresh bucket on the S3 server named by DATAPORT_TEST_S3
// (http://ACCESS:SECRET@host:port/bucket), reached through a proxy of the test's
// own that counts the upstream's requests and injects faults.
const mirrorTestS3 = "DATAPORT_TEST_S3"

// mirrorUpstream is one test's upstream bucket and the proxy in front of it.
type mirrorUpstream struct {
	tb             testing.TB
	direct         *minio.Client // straight to the server, for setting up
	tr             *http.Transport
	access, secret string
	bucket         string
	prefix         string // set when the server refuses new buckets and a shared one is used
	proxy          *mirrorProxy
	data           map[string][]byte // what was uploaded, by the key the mirror shows
	etags          map[string]string // the upstream's ETags, unquoted
}

// newMirrorUpstream makes a fresh bucket, or skips the test when there is no S3
// server to make it on. It also checks that the test leaves no goroutine behind.
func newMirrorUpstream(tb testing.TB) *mirrorUpstream {
	tb.Helper()
	raw := os.Getenv(mirrorTestS3)
	if raw == "" {
		testenv.Missing(tb, mirrorTestS3+" is not set (http://ACCESS:SECRET@host:port/bucket of an S3-compatible server); skipping the mirror tests, which need an upstream")
	}
	mirrorCheckGoroutines(tb)
	u, err := url.Parse(raw)
	if err != nil || u.User == nil || u.Host == "" {
		tb.Fatalf("%s: want http://ACCESS:SECRET@host:port/bucket", mirrorTestS3)
	}
	secret, _ := u.User.Password()
	tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 16}
	direct, err := minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(u.User.Username(), secret, ""),
		Secure:       u.Scheme == "https",
		Transport:    tr,
		Region:       "us-east-1",
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		tb.Fatal(err)
	}
	e := &mirrorUpstream{tb: tb, direct: direct, tr: tr, access: u.User.Username(), secret: secret,
		data: map[string][]byte{}, etags: map[string]string{}}
	ctx := context.Background()
	e.bucket = "dp-cmd-mirror-" + mirrorHex(6)
	if err := direct.MakeBucket(ctx, e.bucket, minio.MakeBucketOptions{}); err != nil {
		shared := strings.Trim(u.Path, "/")
		if shared == "" {
			tb.Fatalf("cannot make a test bucket (%v) and %s names none", err, mirrorTestS3)
		}
		e.bucket, e.prefix = shared, "dp-cmd-mirror-"+mirrorHex(6)+"/"
	}
	tb.Cleanup(func() {
		for o := range direct.ListObjects(ctx, e.bucket, minio.ListObjectsOptions{Prefix: e.prefix, Recursive: true}) {
			if o.Err == nil {
				direct.RemoveObject(ctx, e.bucket, o.Key, minio.RemoveObjectOptions{})
			}
		}
		if e.prefix == "" {
			if err := direct.RemoveBucket(ctx, e.bucket); err != nil {
				tb.Errorf("remove the test bucket %s: %v", e.bucket, err)
			}
		}
		tr.CloseIdleConnections()
	})
	e.proxy = newMirrorProxy(tb, u.Host)
	return e
}

func mirrorHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func mirrorRandom(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// put uploads an object in a single PUT: its ETag is the MD5 of the bytes.
func (e *mirrorUpstream) put(key string, data []byte) {
	e.tb.Helper()
	info, err := e.direct.PutObject(context.Background(), e.bucket, e.prefix+key, bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ContentType: "application/octet-stream", DisableMultipart: true})
	if err != nil {
		e.tb.Fatalf("put %q: %v", key, err)
	}
	e.data[key], e.etags[key] = data, strings.Trim(info.ETag, `"`)
}

// putMultipart uploads an object in parts: its ETag ends in -N.
func (e *mirrorUpstream) putMultipart(key string, parts ...[]byte) {
	e.tb.Helper()
	ctx := context.Background()
	core := minio.Core{Client: e.direct}
	id, err := core.NewMultipartUpload(ctx, e.bucket, e.prefix+key, minio.PutObjectOptions{})
	if err != nil {
		e.tb.Fatal(err)
	}
	var done []minio.CompletePart
	var all []byte
	for i, p := range parts {
		part, err := core.PutObjectPart(ctx, e.bucket, e.prefix+key, id, i+1, bytes.NewReader(p), int64(len(p)), minio.PutObjectPartOptions{})
		if err != nil {
			e.tb.Fatal(err)
		}
		done = append(done, minio.CompletePart{PartNumber: i + 1, ETag: part.ETag})
		all = append(all, p...)
	}
	info, err := core.CompleteMultipartUpload(ctx, e.bucket, e.prefix+key, id, done, minio.PutObjectOptions{})
	if err != nil {
		e.tb.Fatal(err)
	}
	etag := strings.Trim(info.ETag, `"`)
	if !strings.Contains(etag, "-") {
		e.tb.Fatalf("multipart upload of %q has ETag %q, not a multipart one", key, etag)
	}
	e.data[key], e.etags[key] = all, etag
}

func (e *mirrorUpstream) keys() []string {
	var ks []string
	for k := range e.data {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// gets is how many object GETs of key (as the mirror shows it) reached the upstream.
func (e *mirrorUpstream) gets(key string) int { return e.proxy.count(&e.proxy.gets, e.prefix+key) }

// full is how many of them the upstream sent to the last byte.
func (e *mirrorUpstream) full(key string) int { return e.proxy.count(&e.proxy.full, e.prefix+key) }

// mirrorProxy stands between the exchange and the S3 server. It forwards requests as
// they are (the Host header included, which the signatures cover) and counts them;
// object GETs can be delayed, throttled, held or cut mid-body.
type mirrorProxy struct {
	srv    *httptest.Server
	target string
	tr     *http.Transport

	mu      sync.Mutex
	gets    map[string]int           // object GETs by upstream key
	full    map[string]int           // object GET bodies forwarded to their end
	heads   int                      // object HEADs
	lists   int                      // ListObjectsV2
	latency time.Duration            // added before every request is forwarded
	rate    int64                    // bytes per second of each object body, 0: unlimited
	cuts    map[string]int64         // upstream key → bytes sent before the connection drops (once)
	flips   map[string]int64         // upstream key → offset of a byte sent inverted (once)
	unsized map[string]time.Duration // upstream key → the body goes without Content-Length, its end delayed (once)
	hold    chan struct{}            // when set, object bodies wait for it to close
}

func newMirrorProxy(tb testing.TB, target string) *mirrorProxy {
	p := &mirrorProxy{
		target:  target,
		tr:      &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 128},
		gets:    map[string]int{},
		full:    map[string]int{},
		cuts:    map[string]int64{},
		flips:   map[string]int64{},
		unsized: map[string]time.Duration{},
	}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	tb.Cleanup(func() {
		p.srv.Close()
		p.tr.CloseIdleConnections()
	})
	return p
}

func (p *mirrorProxy) addr() string { return strings.TrimPrefix(p.srv.URL, "http://") }

func (p *mirrorProxy) count(m *map[string]int, key string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return (*m)[key]
}

func (p *mirrorProxy) totalGets() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, v := range p.gets {
		n += v
	}
	return n
}

func (p *mirrorProxy) totalHeads() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.heads
}

func (p *mirrorProxy) set(change func(p *mirrorProxy)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	change(p)
}

// holdBodies makes object bodies wait (after their headers) until the returned
// function is called; the test's cleanup calls it too.
func (p *mirrorProxy) holdBodies(tb testing.TB) func() {
	ch := make(chan struct{})
	p.set(func(p *mirrorProxy) { p.hold = ch })
	var once sync.Once
	release := func() {
		once.Do(func() {
			p.set(func(p *mirrorProxy) { p.hold = nil })
			close(ch)
		})
	}
	tb.Cleanup(release)
	return release
}

func (p *mirrorProxy) serve(w http.ResponseWriter, r *http.Request) {
	// Path style: /bucket/key; anything without a key is a bucket request.
	_, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	object := key != ""
	p.mu.Lock()
	latency, rate, hold := p.latency, int64(0), (chan struct{})(nil)
	cutAfter, flipAt, endDelay := int64(-1), int64(-1), time.Duration(-1)
	switch {
	case r.Method == http.MethodGet && object:
		p.gets[key]++
		rate, hold = p.rate, p.hold
		if n, ok := p.cuts[key]; ok {
			cutAfter = n
			delete(p.cuts, key)
		}
		if n, ok := p.flips[key]; ok {
			flipAt = n
			delete(p.flips, key)
		}
		if d, ok := p.unsized[key]; ok {
			endDelay = d
			delete(p.unsized, key)
		}
	case r.Method == http.MethodGet && r.URL.Query().Get("list-type") == "2":
		p.lists++
	case r.Method == http.MethodHead && object:
		p.heads++
	}
	p.mu.Unlock()
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}
	out := r.Clone(r.Context())
	out.URL.Scheme, out.URL.Host, out.RequestURI, out.Host = "http", p.target, "", r.Host
	resp, err := p.tr.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if endDelay >= 0 && resp.StatusCode == http.StatusOK {
		// A chunked answer: the client learns where the body ends only from its last
		// chunk, which comes late.
		w.Header().Del("Content-Length")
		defer func() {
			w.(http.Flusher).Flush()
			select {
			case <-time.After(endDelay):
			case <-r.Context().Done():
			}
		}()
	}
	w.WriteHeader(resp.StatusCode)
	if r.Method == http.MethodHead {
		return
	}
	if hold != nil {
		w.(http.Flusher).Flush()
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	start := time.Now()
	var sent int64
	buf := make([]byte, 32<<10)
	for {
		n, rerr := resp.Body.Read(buf)
		chunk := buf[:n]
		if flipAt >= sent && flipAt < sent+int64(n) {
			chunk[flipAt-sent] ^= 0xff
		}
		if cutAfter >= 0 && sent+int64(n) > cutAfter {
			w.Write(chunk[:cutAfter-sent])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler) // the connection drops mid-body
		}
		if rate > 0 && n > 0 {
			// Each chunk goes out when the rate allows it.
			due := start.Add(time.Duration(float64(sent+int64(n)) / float64(rate) * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				select {
				case <-time.After(d):
				case <-r.Context().Done():
					return
				}
			}
		}
		if _, err := w.Write(chunk); err != nil {
			return
		}
		sent += int64(n)
		if rate > 0 {
			w.(http.Flusher).Flush()
		}
		if rerr == io.EOF {
			if object && r.Method == http.MethodGet && resp.StatusCode == http.StatusOK {
				p.mu.Lock()
				p.full[key]++
				p.mu.Unlock()
			}
			return
		}
		if rerr != nil {
			return
		}
	}
}

// mirrorServer is `dataport serve` with its S3 endpoint, run in-process.
type mirrorServer struct {
	tb             testing.TB
	stdout, stderr *syncBuffer
	done           chan error
	cancel         context.CancelFunc
	api, s3        string // base URLs
	opKey          string // the operator's API key
	opID           string
	dataDir        string
	mirrorDir      string
	tr             *http.Transport
	http           *http.Client
	stopped        bool
}

var (
	mirrorAPIPattern = regexp.MustCompile(`msg=serving url=(http://\S+)`)
	mirrorS3Pattern  = regexp.MustCompile(`msg="serving S3" s3_url=(http://\S+)`)
	mirrorOpPattern  = regexp.MustCompile(`Exchange operator (\S+) created`)
)

// startMirrorServer runs `dataport serve` on free ports with the S3 endpoint on,
// until the test ends; then it stops it and checks that nothing is left in the
// mirror's tmp/.
func startMirrorServer(tb testing.TB, extra ...string) *mirrorServer {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &mirrorServer{tb: tb, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan error, 1), cancel: cancel,
		dataDir: tb.TempDir(), mirrorDir: filepath.Join(tb.TempDir(), "cache")}
	s.tr = &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 128}
	s.http = &http.Client{Transport: s.tr}
	args := append([]string{"serve", "-addr", "127.0.0.1:0", "-s3-addr", "127.0.0.1:0", "-data", s.dataDir,
		"-mirror-dir", s.mirrorDir, "-log-format", "text"}, extra...)
	go func() { s.done <- run(ctx, args, env(nil), s.stdout, s.stderr) }()
	deadline := time.Now().Add(120 * time.Second)
	for {
		select {
		case err := <-s.done:
			cancel()
			tb.Fatalf("%v exited early: %v\n%s", args, err, s.stderr)
		default:
		}
		log := s.stderr.String()
		api, s3url := mirrorAPIPattern.FindStringSubmatch(log), mirrorS3Pattern.FindStringSubmatch(log)
		if api != nil && s3url != nil {
			s.api, s.s3 = api[1], s3url[1]
			break
		}
		if time.Now().After(deadline) {
			cancel()
			tb.Fatalf("%v did not start serving:\n%s", args, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Cleanup(s.stop)
	s.opKey = regexp.MustCompile(`dp\.key_\S+`).FindString(s.stdout.String())
	if m := mirrorOpPattern.FindStringSubmatch(s.stdout.String()); m != nil {
		s.opID = m[1]
	}
	if s.opKey == "" || s.opID == "" {
		tb.Fatalf("no operator key printed:\n%s", s.stdout)
	}
	return s
}

// stop shuts the server down as SIGTERM would, checks that it stopped cleanly, and
// that the mirror left no temp file behind.
func (s *mirrorServer) stop() {
	if s.stopped {
		return
	}
	s.stopped = true
	s.cancel()
	select {
	case err := <-s.done:
		if err != nil {
			s.tb.Errorf("shutdown: %v", err)
		}
	case <-time.After(30 * time.Second):
		s.tb.Error("no graceful shutdown within 30 s")
		return
	}
	if !strings.Contains(s.stderr.String(), "msg=stopped") {
		s.tb.Errorf("no clean stop in the log:\n%s", s.stderr)
	}
	s.tr.CloseIdleConnections()
	for _, l := range s.tmpFiles() {
		s.tb.Errorf("left in the mirror's tmp/: %s", l)
	}
}

func (s *mirrorServer) tmpFiles() []string {
	entries, err := os.ReadDir(filepath.Join(s.mirrorDir, "tmp"))
	if err != nil {
		s.tb.Fatalf("the mirror's tmp/: %v", err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// waitIdle waits until the mirror has no fill in flight and nothing in tmp/.
func (s *mirrorServer) waitIdle() {
	s.tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for len(s.tmpFiles()) > 0 || s.usage().Filling > 0 {
		if time.Now().After(deadline) {
			s.tb.Fatalf("the mirror is still busy: tmp/ %q, %+v", s.tmpFiles(), s.usage())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// cachedFile is where the mirror keeps an object of the upstream named name.
func (s *mirrorServer) cachedFile(name, key string) string {
	h := sha256.Sum256([]byte(key))
	return filepath.Join(s.mirrorDir, "objects", name, hex.EncodeToString(h[:]))
}

// cli runs a dataport command against the server, with key as DATAPORT_KEY.
func (s *mirrorServer) cli(ctx context.Context, key string, args ...string) (string, string, error) {
	vars := map[string]string{"DATAPORT_URL": s.api}
	if key != "" {
		vars["DATAPORT_KEY"] = key
	}
	var out, errOut syncBuffer
	err := run(ctx, args, env(vars), &out, &errOut)
	return out.String(), errOut.String(), err
}

// mustCLI runs a dataport command as the operator and fails the test if it fails.
func (s *mirrorServer) mustCLI(args ...string) string {
	s.tb.Helper()
	out, errOut, err := s.cli(context.Background(), s.opKey, args...)
	if err != nil {
		s.tb.Fatalf("dataport %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// call sends a JSON request to the API with key and decodes the answer into out.
func (s *mirrorServer) call(key, method, path string, in, out any) (int, string) {
	s.tb.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.api+path, body)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := s.http.Do(req)
	if err != nil {
		s.tb.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			s.tb.Fatalf("%s %s: %v\n%s", method, path, err, raw)
		}
	}
	return res.StatusCode, string(raw)
}

// usage is the mirror cache's usage as the API reports it.
func (s *mirrorServer) usage() mirror.Usage {
	s.tb.Helper()
	var out struct {
		Cache mirror.Usage `json:"cache"`
	}
	if code, body := s.call(s.opKey, "GET", "/api/v1/mirror/upstreams", nil, &out); code != http.StatusOK {
		s.tb.Fatalf("list upstreams: %d %s", code, body)
	}
	return out.Cache
}

// addUpstream registers the test bucket, through the proxy, as bucket name with
// `dataport mirror add`.
func (s *mirrorServer) addUpstream(name string, up *mirrorUpstream) {
	s.tb.Helper()
	args := []string{"mirror", "add", name, "-endpoint", up.proxy.addr(), "-bucket", up.bucket,
		"-access-key", up.access, "-secret-key", up.secret}
	if up.prefix != "" {
		args = append(args, "-prefix", up.prefix)
	}
	out := s.mustCLI(args...)
	if !strings.Contains(out, "as bucket "+name+" (with credentials)") {
		s.tb.Fatalf("mirror add printed %q", out)
	}
}

// objectURL is the S3 endpoint's URL of an object, each key segment escaped.
func (s *mirrorServer) objectURL(bucket, key string) string {
	segs := strings.Split(key, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return s.s3 + "/" + bucket + "/" + strings.Join(segs, "/")
}

// getObject GETs an object anonymously through the S3 endpoint. A status other
// than 200, or a body that breaks off, is an error; the bytes read so far are
// returned with it.
func (s *mirrorServer) getObject(bucket, key string) ([]byte, error) {
	res, err := s.http.Get(s.objectURL(bucket, key))
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return b, &mirrorStatusError{Status: res.StatusCode, Msg: fmt.Sprintf("GET %s/%s: %s %s", bucket, key, res.Status, b)}
	}
	return b, err
}

// mirrorStatusError is an answer other than 200 OK.
type mirrorStatusError struct {
	Status int
	Msg    string
}

func (e *mirrorStatusError) Error() string { return e.Msg }

// sdk is an aws-sdk-go-v2 client of the S3 endpoint.
func (s *mirrorServer) sdk(creds aws.CredentialsProvider) *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(s.s3),
		Region:       "us-east-1",
		UsePathStyle: true,
		Credentials:  creds,
		HTTPClient:   s.http,
	})
}

func mirrorAPICode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// mirrorCheckGoroutines fails the test when, once it is cleaned up, more goroutines
// run than before it started (allowing a moment for exiting ones to finish).
func mirrorCheckGoroutines(tb testing.TB) {
	before := runtime.NumGoroutine()
	tb.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				tb.Errorf("goroutines: %d before, %d after:\n%s", before, runtime.NumGoroutine(), buf)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// mirrorToolEnv is a clean environment for a client: a HOME of its own, and none of
// the machine's AWS_* (AWS_CA_BUNDLE breaks rclone's plain-HTTP requests), RCLONE_*
// or proxy settings.
func mirrorToolEnv(t *testing.T, extra ...string) []string {
	var vars []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "RCLONE_") || k == "HOME" ||
			strings.EqualFold(k, "HTTP_PROXY") || strings.EqualFold(k, "HTTPS_PROXY") || strings.EqualFold(k, "NO_PROXY") {
			continue
		}
		vars = append(vars, kv)
	}
	return append(append(vars, "HOME="+t.TempDir()), extra...)
}

func mirrorRunTool(t *testing.T, vars []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = vars
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(name), strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// mirrorURIs takes the s3:// URIs from s3cmd ls output, sorted.
func mirrorURIs(out string) []string {
	var uris []string
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		if i := strings.Index(line, "s3://"); i >= 0 {
			uris = append(uris, line[i:])
		}
	}
	sort.Strings(uris)
	return uris
}

// mirrorCheckTree compares the files under dir with want, by path relative to dir.
func mirrorCheckTree(t *testing.T, dir string, want map[string][]byte) {
	t.Helper()
	got := map[string]bool{}
	err := filepath.WalkDir(dir, func(p string, d iofs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		key := filepath.ToSlash(rel)
		got[key] = true
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if w, ok := want[key]; !ok {
			t.Errorf("unexpected file %q", key)
		} else if !bytes.Equal(b, w) {
			t.Errorf("%q: %d bytes differ from the %d uploaded", key, len(b), len(w))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for k := range want {
		if !got[k] {
			t.Errorf("%q not downloaded", k)
		}
	}
}

// The mirror through the S3 endpoint with every client: s3cmd (signed, with an S3
// key of the operator's), rclone (anonymous), aws-sdk-go-v2 (anonymous) and
// `dataport get`; every byte as uploaded, each object fetched from the upstream
// once however many clients read it.
func TestMirrorThroughS3Endpoint(t *testing.T) {
	up := newMirrorUpstream(t)
	small := map[string]string{
		"README.txt":                 "open data, mirrored\n",
		"数据/报告 2024.csv":             "年份,产量\n2024,1234\n",
		"with space/file name.txt":   "a key with spaces",
		"data/2024/01/readings.json": `{"month":1}`,
		"data/2024/02/readings.json": `{"month":2}`,
		"data/2025/summary.json":     `{"year":2025}`,
		"plus+sign.txt":              "a plus in the key",
	}
	for k, v := range small {
		up.put(k, []byte(v))
	}
	up.put("big/3mib.bin", mirrorRandom(3<<20+7))
	up.putMultipart("big/multipart.bin", mirrorRandom(5<<20), mirrorRandom(777<<10+3))
	keys := up.keys()

	s := startMirrorServer(t)
	name := "open-" + mirrorHex(4)
	s.addUpstream(name, up)

	t.Run("s3cmd", func(t *testing.T) {
		s3cmd := testenv.Tool(t, "DATAPORT_TEST_S3CMD", "s3cmd")
		var key struct {
			ID     string `json:"access_key_id"`
			Secret string `json:"secret_access_key"`
		}
		if code, body := s.call(s.opKey, "POST", "/api/v1/participants/"+s.opID+"/s3-keys", map[string]any{"name": "s3cmd"}, &key); code != http.StatusCreated {
			t.Fatalf("create an S3 key: %d %s", code, body)
		}
		host := strings.TrimPrefix(s.s3, "http://")
		cfg := filepath.Join(t.TempDir(), "s3cfg")
		os.WriteFile(cfg, []byte(strings.Join([]string{"[default]", "access_key = " + key.ID, "secret_key = " + key.Secret,
			"host_base = " + host, "host_bucket = " + host, "use_https = False", "signature_v2 = False", "bucket_location = us-east-1", ""}, "\n")), 0o600)
		vars := mirrorToolEnv(t)
		got := mirrorURIs(mirrorRunTool(t, vars, s3cmd, "-c", cfg, "ls", "s3://"+name))
		var want []string
		for _, p := range []string{"README.txt", "big/", "data/", "plus+sign.txt", "with space/", "数据/"} {
			want = append(want, "s3://"+name+"/"+p)
		}
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("s3cmd ls:\n%q\nwant\n%q", got, want)
		}
		got = mirrorURIs(mirrorRunTool(t, vars, s3cmd, "-c", cfg, "ls", "-r", "s3://"+name))
		want = nil
		for _, k := range keys {
			want = append(want, "s3://"+name+"/"+k)
		}
		if !slices.Equal(got, want) {
			t.Errorf("s3cmd ls -r:\n%q\nwant\n%q", got, want)
		}
		dir := t.TempDir()
		for _, k := range []string{"数据/报告 2024.csv", "big/3mib.bin", "big/multipart.bin"} {
			dst := filepath.Join(dir, strings.ReplaceAll(k, "/", "_"))
			mirrorRunTool(t, vars, s3cmd, "-c", cfg, "get", "s3://"+name+"/"+k, dst)
			if b, err := os.ReadFile(dst); err != nil || !bytes.Equal(b, up.data[k]) {
				t.Errorf("s3cmd get %q: %v, %d bytes of %d", k, err, len(b), len(up.data[k]))
			}
		}
	})

	t.Run("rclone", func(t *testing.T) {
		rclone := testenv.Tool(t, "DATAPORT_TEST_RCLONE", "rclone")
		p := "RCLONE_CONFIG_ANON_"
		vars := mirrorToolEnv(t, p+"TYPE=s3", p+"PROVIDER=Other", p+"ENDPOINT="+s.s3, p+"FORCE_PATH_STYLE=true", p+"REGION=us-east-1",
			"RCLONE_CONFIG="+filepath.Join(t.TempDir(), "none.conf"))
		out := mirrorRunTool(t, vars, rclone, "ls", "anon:"+name)
		got := map[string]int{}
		for line := range strings.SplitSeq(strings.TrimRight(out, "\n"), "\n") {
			size, path, _ := strings.Cut(strings.TrimLeft(line, " "), " ")
			got[path], _ = strconv.Atoi(size)
		}
		want := map[string]int{}
		for k, v := range up.data {
			want[k] = len(v)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("rclone ls:\n%v\nwant\n%v", got, want)
		}
		dir := t.TempDir()
		mirrorRunTool(t, vars, rclone, "copy", "anon:"+name, dir)
		mirrorCheckTree(t, dir, up.data)
	})

	t.Run("aws-sdk-go-v2", func(t *testing.T) {
		ctx := context.Background()
		c := s.sdk(aws.AnonymousCredentials{})
		pages := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(name), MaxKeys: aws.Int32(2)})
		var listed []string
		n := 0
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			n++
			for _, o := range page.Contents {
				k := aws.ToString(o.Key)
				listed = append(listed, k)
				if aws.ToInt64(o.Size) != int64(len(up.data[k])) || aws.ToString(o.ETag) != `"`+up.etags[k]+`"` {
					t.Errorf("listed %q: size %d, ETag %s; want %d, %q", k, aws.ToInt64(o.Size), aws.ToString(o.ETag), len(up.data[k]), up.etags[k])
				}
			}
		}
		if !slices.Equal(listed, keys) || n != (len(keys)+1)/2 {
			t.Errorf("ListObjectsV2 in %d pages of 2:\n%q\nwant\n%q", n, listed, keys)
		}
		for _, k := range keys {
			out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(name), Key: aws.String(k)})
			if err != nil {
				t.Fatalf("GetObject %q: %v", k, err)
			}
			b, err := io.ReadAll(out.Body)
			out.Body.Close()
			if err != nil || !bytes.Equal(b, up.data[k]) || aws.ToString(out.ETag) != `"`+up.etags[k]+`"` {
				t.Errorf("GetObject %q: %v, %d bytes of %d, ETag %s", k, err, len(b), len(up.data[k]), aws.ToString(out.ETag))
			}
		}
	})

	t.Run("dataport mirror list", func(t *testing.T) {
		out := s.mustCLI("mirror", "list")
		row := regexp.MustCompile(`(?m)^` + name + `\s+` + regexp.QuoteMeta(up.proxy.addr()+"/"+up.bucket+"/"+up.prefix) + `\s+\S*\s*credentials$`)
		if !row.MatchString(out) {
			t.Errorf("mirror list has no row for %s:\n%s", name, out)
		}
		var total int
		for _, v := range up.data {
			total += len(v)
		}
		if want := fmt.Sprintf("cache: %d objects, %d of %d bytes;", len(keys), total, int64(100<<30)); !strings.Contains(out, want) {
			t.Errorf("mirror list: want %q in\n%s", want, out)
		}
	})

	t.Run("dataport get", func(t *testing.T) {
		dir := t.TempDir()
		// The S3 endpoint reads the mirror anonymously; an exchange user has
		// DATAPORT_KEY set, which is the API's key and not for other hosts.
		for _, apiKey := range []string{"", s.opKey} {
			for _, k := range []string{"数据/报告 2024.csv", "big/3mib.bin", "big/multipart.bin"} {
				dst := filepath.Join(dir, mirrorHex(4)+"-"+filepath.Base(k))
				out, errOut, err := s.cli(context.Background(), apiKey, "get", "-o", dst, s.objectURL(name, k))
				if err != nil {
					t.Errorf("dataport get %s (DATAPORT_KEY set: %v): %v\n%s", k, apiKey != "", err, errOut)
					continue
				}
				b, _ := os.ReadFile(dst)
				if !bytes.Equal(b, up.data[k]) || !strings.Contains(out, fmt.Sprintf("%d bytes, SHA-256 %s", len(b), sha256hex(up.data[k]))) {
					t.Errorf("dataport get %s: %d bytes of %d; printed %q", k, len(b), len(up.data[k]), out)
				}
			}
		}
	})

	// Every client read every object at least once; the upstream saw one GET each.
	for _, k := range keys {
		if n := up.gets(k); n != 1 {
			t.Errorf("%q: %d upstream GETs, want 1", k, n)
		}
	}
	// A second read of a warm object asks the upstream nothing.
	before, hits := up.proxy.totalGets(), s.usage().Hits
	for _, k := range keys {
		if b, err := s.getObject(name, k); err != nil || !bytes.Equal(b, up.data[k]) {
			t.Errorf("warm GET %q: %v, %d bytes", k, err, len(b))
		}
	}
	if after := up.proxy.totalGets(); after != before {
		t.Errorf("warm reads made %d upstream GETs", after-before)
	}
	if u := s.usage(); u.Hits != hits+int64(len(keys)) || u.Fetches != int64(len(keys)) {
		t.Errorf("usage after warm reads: %+v; want %d more hits, %d fetches", u, len(keys), len(keys))
	}
}

// The upstream fails a megabyte into an object: its connection drops, or it sends
// every byte but one of them wrong (which only the check at the end finds). The
// client reading the object through the endpoint gets a broken transfer, never an
// object that looks whole, and nothing of it is kept. The next read fetches it
// again, whole, and finds it kept once it has the last byte.
func TestMirrorUpstreamDiesMidObject(t *testing.T) {
	up := newMirrorUpstream(t)
	faults := map[string]func(p *mirrorProxy, key string){
		"connection drops": func(p *mirrorProxy, key string) { p.cuts[key] = 1 << 20 },
		"corrupt body":     func(p *mirrorProxy, key string) { p.flips[key] = 1 << 20 },
		// Every byte arrives before the body's end does, which is when the fill can
		// check them.
		"corrupt body without length": func(p *mirrorProxy, key string) {
			p.flips[key], p.unsized[key] = 1<<20, 300*time.Millisecond
		},
	}
	for fault := range faults {
		up.put("big/"+strings.ReplaceAll(fault, " ", "-")+".bin", mirrorRandom(4<<20+3))
	}
	s := startMirrorServer(t)
	name := "cut-" + mirrorHex(4)
	s.addUpstream(name, up)

	for fault, inject := range faults {
		t.Run(fault, func(t *testing.T) {
			key := "big/" + strings.ReplaceAll(fault, " ", "-") + ".bin"
			want := up.data[key]
			s.waitIdle()
			up.proxy.set(func(p *mirrorProxy) { inject(p, up.prefix+key) })
			b, err := s.getObject(name, key)
			if err == nil {
				t.Fatalf("a GET whose upstream failed mid-body succeeded with %d bytes (of %d), equal: %v", len(b), len(want), bytes.Equal(b, want))
			}
			// The fill may fail before the endpoint answers (503), or, as a rule, after
			// it has sent the status and some of the body: then the connection breaks.
			var se *mirrorStatusError
			switch {
			case errors.As(err, &se):
				if se.Status != http.StatusServiceUnavailable {
					t.Errorf("the failed GET: %v, want 503 or a broken body", err)
				}
			case !errors.Is(err, io.ErrUnexpectedEOF) || len(b) >= len(want):
				t.Errorf("the broken GET: %v after %d bytes; want an unexpected EOF before %d", err, len(b), len(want))
			case !strings.Contains(s.stderr.String(), "object read failed mid-transfer"):
				t.Errorf("the endpoint logged no failed transfer:\n%s", s.stderr)
			}
			if n := up.gets(key); n != 1 {
				t.Fatalf("%d upstream GETs, want 1", n)
			}
			// By the time the client hears of the failure nothing of it is on disk.
			for _, p := range []string{s.cachedFile(name, key), s.cachedFile(name, key) + ".json"} {
				if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("after the failed fill %s: %v", p, err)
				}
			}
			if left := s.tmpFiles(); len(left) > 0 {
				t.Errorf("after the failed fill, tmp/ holds %q", left)
			}

			// Again: whole this time, and kept by the time the client has it all.
			if b, err := s.getObject(name, key); err != nil || !bytes.Equal(b, want) {
				t.Fatalf("the GET after the failure: %v, %d bytes of %d", err, len(b), len(want))
			}
			if n := up.gets(key); n != 2 {
				t.Fatalf("%d upstream GETs, want 2", n)
			}
			if st, err := os.Stat(s.cachedFile(name, key)); err != nil || st.Size() != int64(len(want)) {
				t.Errorf("the object is not cached whole once the client has it: %v", err)
			}
			if b, err := s.getObject(name, key); err != nil || !bytes.Equal(b, want) {
				t.Fatalf("the third GET: %v, %d bytes", err, len(b))
			}
			if n := up.gets(key); n != 2 {
				t.Errorf("the third GET went upstream: %d GETs", n)
			}
		})
	}
}

// A hundred clients ask at once for one cold object: the upstream sees one GET,
// and every client gets every byte. The proxy holds the object's body until all
// hundred are waiting for the fill, so they really do overlap.
func TestMirrorColdStampede(t *testing.T) {
	up := newMirrorUpstream(t)
	const key = "cold/stampede.bin"
	up.put(key, mirrorRandom(3<<20+11))
	s := startMirrorServer(t)
	name := "stampede-" + mirrorHex(4)
	s.addUpstream(name, up)
	release := up.proxy.holdBodies(t)

	const clients = 100
	bodies := make([][]byte, clients)
	errs := make([]error, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() { bodies[i], errs[i] = s.getObject(name, key) })
	}
	deadline := time.Now().Add(60 * time.Second)
	for s.usage().Misses < clients {
		if time.Now().After(deadline) {
			release()
			wg.Wait()
			t.Fatalf("the %d clients did not all reach the fill: %+v", clients, s.usage())
		}
		time.Sleep(20 * time.Millisecond)
	}
	release()
	wg.Wait()
	for i := range clients {
		if errs[i] != nil || !bytes.Equal(bodies[i], up.data[key]) {
			t.Errorf("client %d: %v, %d bytes of %d", i, errs[i], len(bodies[i]), len(up.data[key]))
		}
	}
	if n := up.gets(key); n != 1 {
		t.Errorf("%d upstream GETs for %d concurrent cold reads, want 1", n, clients)
	}
	u := s.usage()
	if u.Fetches != 1 || u.Misses != clients || u.Hits != 0 || u.Objects != 1 {
		t.Errorf("usage: %+v", u)
	}
	// Each request asks for the object's metadata first (HeadObject's answer is
	// the GET's headers); those that come before the fill has its answer ask the
	// upstream.
	t.Logf("%d concurrent cold GETs: %d upstream GET, %d upstream HEADs", clients, up.gets(key), u.Heads)
}

var mirrorSyncReport = regexp.MustCompile(`: (\d+) objects; (\d+) fetched \((\d+) bytes\), (\d+) already cached, (\d+) failed`)

// mirrorParseSyncReport reads `dataport mirror sync`'s last line: objects, fetched,
// bytes, already cached, failed.
func mirrorParseSyncReport(t *testing.T, out string) [5]int64 {
	t.Helper()
	m := mirrorSyncReport.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no sync report in %q", out)
	}
	var r [5]int64
	for i := range r {
		r[i], _ = strconv.ParseInt(m[i+1], 10, 64)
	}
	return r
}

// `dataport mirror sync` prefetches a prefix at a capped rate so that reads are
// warm; an interrupted sync resumes where it stopped; bad input is refused.
func TestMirrorSyncCommand(t *testing.T) {
	up := newMirrorUpstream(t)
	var syncKeys, slowKeys []string
	var syncBytes int64
	for i := range 8 {
		k := fmt.Sprintf("sync/part-%02d.bin", i)
		up.put(k, mirrorRandom(512<<10+i))
		syncKeys = append(syncKeys, k)
		syncBytes += int64(512<<10 + i)
	}
	up.put("sync/深/嵌套 文件.txt", []byte("nested, Chinese, spaces"))
	syncKeys = append(syncKeys, "sync/深/嵌套 文件.txt")
	syncBytes += int64(len(up.data["sync/深/嵌套 文件.txt"]))
	up.put("other/outside.txt", []byte("not under the prefix"))
	for i := range 5 {
		k := fmt.Sprintf("slow/%d.bin", i)
		up.put(k, mirrorRandom(256<<10))
		slowKeys = append(slowKeys, k)
	}
	s := startMirrorServer(t)
	name := "sync-" + mirrorHex(4)
	s.addUpstream(name, up)

	t.Run("prefetch", func(t *testing.T) {
		const rate = 4_000_000
		start := time.Now()
		out := s.mustCLI("mirror", "sync", "-rate", strconv.Itoa(rate), name, "sync/")
		took := time.Since(start)
		if r := mirrorParseSyncReport(t, out); r != [5]int64{int64(len(syncKeys)), int64(len(syncKeys)), syncBytes, 0, 0} {
			t.Errorf("sync report %v: %q", r, out)
		}
		// The cap holds: the bytes cannot have come faster than the rate (less the
		// limiter's 64 KiB burst).
		if floor := time.Duration(float64(syncBytes-64<<10) / rate * float64(time.Second)); took < floor {
			t.Errorf("synced %d bytes in %v at -rate %d: faster than %v", syncBytes, took, rate, floor)
		}
		for _, k := range syncKeys {
			if n := up.gets(k); n != 1 {
				t.Errorf("%q: %d upstream GETs after the sync, want 1", k, n)
			}
		}
		if n := up.gets("other/outside.txt"); n != 0 {
			t.Errorf("the sync fetched a key outside its prefix")
		}
		before := up.proxy.totalGets()
		for _, k := range syncKeys {
			if b, err := s.getObject(name, k); err != nil || !bytes.Equal(b, up.data[k]) {
				t.Errorf("GET %q after the sync: %v, %d bytes", k, err, len(b))
			}
		}
		if after := up.proxy.totalGets(); after != before {
			t.Errorf("reads after the sync made %d upstream GETs", after-before)
		}
		// Again: nothing to do.
		out = s.mustCLI("mirror", "sync", name, "sync/")
		if r := mirrorParseSyncReport(t, out); r != [5]int64{int64(len(syncKeys)), 0, 0, int64(len(syncKeys)), 0} {
			t.Errorf("second sync report %v: %q", r, out)
		}
	})

	t.Run("interrupted and resumed", func(t *testing.T) {
		// One object at a time, each taking a second: cancel once the first is kept.
		up.proxy.set(func(p *mirrorProxy) { p.rate = 256 << 10 })
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		var out, errOut string
		go func() {
			var err error
			out, errOut, err = s.cli(ctx, s.opKey, "mirror", "sync", "-concurrency", "1", name, "slow/")
			done <- err
		}()
		base := s.usage().Objects
		deadline := time.Now().Add(30 * time.Second)
		for s.usage().Objects < base+1 {
			if time.Now().After(deadline) {
				t.Fatal("the slow sync kept nothing within 30 s")
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		if err := <-done; err == nil {
			t.Fatalf("an interrupted sync succeeded: %s%s", out, errOut)
		}
		kept := s.usage().Objects - base
		if kept >= int(len(slowKeys)) {
			t.Fatalf("the sync finished (%d objects) before it could be interrupted", kept)
		}
		// The server drops the fill it was doing: nothing partial is left.
		s.waitIdle()
		up.proxy.set(func(p *mirrorProxy) { p.rate = 0 })
		done2 := s.mustCLI("mirror", "sync", name, "slow/")
		r := mirrorParseSyncReport(t, done2)
		if r[0] != int64(len(slowKeys)) || r[3] != int64(kept) || r[1] != int64(len(slowKeys)-kept) || r[4] != 0 {
			t.Errorf("resumed sync after %d of %d were kept: report %v %q", kept, len(slowKeys), r, done2)
		}
		// Each object came whole from the upstream once in all: the first run's were
		// not fetched again.
		for _, k := range slowKeys {
			if n := up.full(k); n != 1 {
				t.Errorf("%q: sent whole by the upstream %d times, want 1 (gets %d)", k, n, up.gets(k))
			}
			if n := up.gets(k); n > 2 {
				t.Errorf("%q: %d upstream GETs", k, n)
			}
		}
		before := up.proxy.totalGets()
		for _, k := range slowKeys {
			if b, err := s.getObject(name, k); err != nil || !bytes.Equal(b, up.data[k]) {
				t.Errorf("GET %q after the resumed sync: %v", k, err)
			}
		}
		if after := up.proxy.totalGets(); after != before {
			t.Errorf("reads after the resumed sync made %d upstream GETs", after-before)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		ctx := context.Background()
		if _, errOut, err := s.cli(ctx, s.opKey, "mirror", "sync"); !errors.Is(err, errUsage) || !strings.Contains(errOut, "Usage:") {
			t.Errorf("sync without an upstream: %v\n%s", err, errOut)
		}
		if _, _, err := s.cli(ctx, s.opKey, "mirror", "sync", "-rate", "-5", name); !errors.Is(err, errUsage) {
			t.Errorf("sync with a negative rate: %v", err)
		}
		_, _, err := s.cli(ctx, s.opKey, "mirror", "sync", "no-such-upstream")
		var ae *apiError
		if err == nil || errors.Is(err, errUsage) || !errors.As(err, &ae) || ae.Status != http.StatusNotFound ||
			!strings.Contains(err.Error(), "no upstream no-such-upstream") {
			t.Errorf("sync of an unknown upstream: %v", err)
		}
		_, _, err = s.cli(ctx, s.opKey, "mirror", "add", "bad-arn", "-arn", "arn:aws:ec2:::some-bucket", "-region", "us-east-1")
		if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || !strings.Contains(err.Error(), "arn: not an S3 ARN") {
			t.Errorf("add with an EC2 ARN: %v", err)
		}
		_, _, err = s.cli(ctx, s.opKey, "mirror", "add", "bad-arn", "-arn", "arn:aws:s3:::", "-region", "us-east-1")
		if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || !strings.Contains(err.Error(), "the ARN names no bucket") {
			t.Errorf("add with an ARN without a bucket: %v", err)
		}
		if _, _, err := s.cli(ctx, s.opKey, "mirror", "add", "-arn", "arn:aws:s3:::x"); !errors.Is(err, errUsage) {
			t.Errorf("add without a name: %v", err)
		}
		if out := s.mustCLI("mirror", "list"); strings.Contains(out, "bad-arn") {
			t.Errorf("a refused upstream is listed:\n%s", out)
		}
		if _, err := s.getObject("bad-arn", "x"); err == nil || !strings.Contains(err.Error(), "NoSuchBucket") {
			t.Errorf("the refused upstream's bucket: %v", err)
		}
	})
}

// mirrorDeal is a finalised deal, bought through the API, whose files were
// uploaded with `dataport put -seal`.
type mirrorDeal struct {
	id, bucket                string
	buyerID, agentID, otherID string
	op, buyer, agent, other   client
	files                     map[string][]byte
}

// mirrorFinaliseDeal runs a foreign supplier's deal through its agent up to
// finalisation, as TestForeignDealCertificateVerifiesOffline does, with a second
// verified buyer that has no part in it.
func mirrorFinaliseDeal(t *testing.T, s *mirrorServer) mirrorDeal {
	t.Helper()
	op := client{t, s.api, s.opKey}
	member := func(body map[string]any) (string, client, ed25519.PrivateKey, string) {
		p := op.call("POST", "/api/v1/participants", body)
		id := p["id"].(string)
		op.call("POST", "/api/v1/participants/"+id+"/kyc", map[string]any{"status": "verified"})
		key := op.call("POST", "/api/v1/participants/"+id+"/api-keys", map[string]any{"name": "test"})["token"].(string)
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		sk := op.call("POST", "/api/v1/participants/"+id+"/signing-keys", map[string]any{"name": "contracts", "public_key": base64.StdEncoding.EncodeToString(pub)})
		return id, client{t, s.api, key}, priv, sk["id"].(string)
	}
	uscc := func(first17 string) string {
		c, _ := registry.CompleteUSCC(first17)
		return c
	}
	sign := func(priv ed25519.PrivateKey, keyID, doc string) map[string]any {
		return map[string]any{"key_id": keyID, "signature": base64.StdEncoding.EncodeToString(ed25519.Sign(priv, []byte(doc)))}
	}
	supplierID, supplier, supplierKey, supplierKeyID := member(map[string]any{"legal_name": map[string]any{"en": "Nordhav Energy Data AS"},
		"jurisdiction": "NO", "kind": "foreign", "registration_number": "923456781", "roles": []string{"supplier"}})
	agentID, agent, agentKey, agentKeyID := member(map[string]any{"legal_name": map[string]any{"zh": "上海浦江国际数据服务有限公司"},
		"jurisdiction": "CN", "kind": "domestic", "uscc": uscc("91310101MA1G8PJ03"), "roles": []string{"agent"}})
	buyerID, buyer, buyerKey, buyerKeyID := member(map[string]any{"legal_name": map[string]any{"zh": "华东证券股份有限公司"},
		"jurisdiction": "CN", "kind": "domestic", "uscc": uscc("91310000132200821"), "roles": []string{"buyer"}})
	otherID, other, _, _ := member(map[string]any{"legal_name": map[string]any{"zh": "江南数据研究有限公司"},
		"jurisdiction": "CN", "kind": "domestic", "uscc": uscc("91320000MA1N2XB47"), "roles": []string{"buyer"}})
	op.call("PUT", "/api/v1/participants/"+agentID+"/whitelist", map[string]any{"reference": "MOFCOM-2026-17", "valid_until": "2030-12-31"})

	c := agent.call("POST", "/api/v1/agency-contracts", map[string]any{"supplier_id": supplierID, "agent_id": agentID,
		"categories": []string{"energy"}, "valid_from": "2026-01-01", "valid_until": "2030-12-31"})
	cid, doc := c["id"].(string), c["document"].(string)
	supplier.call("POST", "/api/v1/agency-contracts/"+cid+"/signatures", sign(supplierKey, supplierKeyID, doc))
	agent.call("POST", "/api/v1/agency-contracts/"+cid+"/signatures", sign(agentKey, agentKeyID, doc))
	op.call("POST", "/api/v1/agency-contracts/"+cid+"/certify", nil)

	report := agent.call("POST", "/api/v1/attachments?name=assessment.pdf", []byte("%PDF third-party compliance assessment"))
	p := agent.call("POST", "/api/v1/products", map[string]any{"supplier_id": supplierID, "details": map[string]any{
		"type": "dataset", "title": map[string]any{"zh": "北海原油产量", "en": "North Sea crude output"}, "summary": map[string]any{"en": "Monthly"},
		"category": "energy", "delivery_modes": []string{"api", "file"}, "scenarios": []string{"research"}, "source": "enterprise",
		"grade": "general", "sublevel": 1, "pi_subjects": 0, "sensitive_pi_subjects": 0, "origin_jurisdiction": "NO",
		"rights":      map[string]any{"holding": true, "processing_use": true, "product_operation": true},
		"price_plans": []any{map[string]any{"kind": "one_off", "price": map[string]any{"amount": 2_000_000, "currency": "CNY"}}},
		"attachments": []any{map[string]any{"kind": "compliance_report", "sha256": report["sha256"]}}}})
	pid := p["id"].(string)

	files := map[string][]byte{
		"2026/crude-output.bin": mirrorRandom(3<<20 + 5),
		"README.md":             []byte("# 北海原油产量\nMonthly output by field.\n"),
		"数据/月度 报告.csv":          []byte("月份,产量\n1,100\n"),
	}
	dir := t.TempDir()
	for p, b := range files {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), b, 0o644)
	}
	out, errOut, err := s.cli(context.Background(), agent.key, "put", "-product", pid, "-revision", "1", "-seal", dir)
	if err != nil || !strings.Contains(out, fmt.Sprintf("sealed revision 1: %d files", len(files))) {
		t.Fatalf("dataport put: %v\n%s%s", err, out, errOut)
	}
	agent.call("POST", "/api/v1/products/"+pid+"/submit", nil)
	op.call("POST", "/api/v1/products/"+pid+"/review", nil)
	op.call("POST", "/api/v1/products/"+pid+"/approve", nil)

	op.call("POST", "/api/v1/participants/"+buyerID+"/funding", map[string]any{"amount": map[string]any{"amount": 5_000_000, "currency": "CNY"}},
		"Idempotency-Key", "stmt-1")
	d := buyer.call("POST", "/api/v1/deals", map[string]any{"product_id": pid, "plan": 0, "scenario": "research", "purpose": "academic", "delivery_mode": "file"})
	id := d["id"].(string)
	draft := agent.call("GET", "/api/v1/deals/"+id+"/contract", nil)["document"].(string)
	agent.call("POST", "/api/v1/deals/"+id+"/agree", sign(agentKey, agentKeyID, draft), "Idempotency-Key", "agree-1")
	contract := buyer.call("GET", "/api/v1/deals/"+id, nil)["contract"].(string)
	buyer.call("POST", "/api/v1/deals/"+id+"/verify", sign(buyerKey, buyerKeyID, contract))
	agent.call("POST", "/api/v1/deals/"+id+"/finalize", nil)
	return mirrorDeal{id: id, bucket: strings.Replace(id, "deal_", "deal-", 1), buyerID: buyerID, agentID: agentID, otherID: otherID,
		op: op, buyer: buyer, agent: agent, other: other, files: files}
}

// mirrorS3Key issues an S3 access key for participant id with the API key of c.
func mirrorS3Key(c client, id string) aws.CredentialsProvider {
	k := c.call("POST", "/api/v1/participants/"+id+"/s3-keys", map[string]any{"name": "s3 tools"})
	return awscreds.NewStaticCredentialsProvider(k["access_key_id"].(string), k["secret_access_key"].(string), "")
}

// A finalised deal is a bucket of the S3 endpoint for its buyer alone, signed with
// the buyer's S3 access key: listed, its manifest's files listed and downloaded
// byte for byte, ETags being SHA-256s; nobody else reads it, and revoking the key
// or suspending the buyer stops it at once.
func TestDealBucketThroughS3Endpoint(t *testing.T) {
	mirrorCheckGoroutines(t)
	s := startMirrorServer(t)
	d := mirrorFinaliseDeal(t, s)
	ctx := context.Background()
	buyerCreds := mirrorS3Key(d.buyer, d.buyerID)
	buyer := s.sdk(buyerCreds)
	var paths []string
	for p := range d.files {
		paths = append(paths, p)
	}
	sort.Strings(paths)

	t.Run("the buyer", func(t *testing.T) {
		bs, err := buyer.ListBuckets(ctx, &s3.ListBucketsInput{})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, b := range bs.Buckets {
			names = append(names, aws.ToString(b.Name))
		}
		if !slices.Equal(names, []string{d.bucket}) {
			t.Errorf("the buyer's buckets: %q, want %q", names, d.bucket)
		}
		var listed []string
		pages := s3.NewListObjectsV2Paginator(buyer, &s3.ListObjectsV2Input{Bucket: aws.String(d.bucket), MaxKeys: aws.Int32(2)})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range page.Contents {
				k := aws.ToString(o.Key)
				listed = append(listed, k)
				if aws.ToString(o.ETag) != `"`+sha256hex(d.files[k])+`"` || aws.ToInt64(o.Size) != int64(len(d.files[k])) {
					t.Errorf("listed %q: ETag %s, size %d", k, aws.ToString(o.ETag), aws.ToInt64(o.Size))
				}
			}
		}
		if !slices.Equal(listed, paths) {
			t.Errorf("ListObjectsV2: %q, want the manifest's %q", listed, paths)
		}
		for _, p := range paths {
			out, err := buyer.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(d.bucket), Key: aws.String(p)})
			if err != nil {
				t.Fatalf("GetObject %q: %v", p, err)
			}
			b, err := io.ReadAll(out.Body)
			out.Body.Close()
			if err != nil || !bytes.Equal(b, d.files[p]) {
				t.Errorf("GetObject %q: %v, %d bytes of %d", p, err, len(b), len(d.files[p]))
			}
			if got, want := aws.ToString(out.ETag), `"`+sha256hex(d.files[p])+`"`; got != want {
				t.Errorf("GetObject %q: ETag %s, want the SHA-256 %s", p, got, want)
			}
		}
		// Downloads through the endpoint are deliveries: all files delivered, the
		// escrow is released.
		if deal := d.buyer.call("GET", "/api/v1/deals/"+d.id, nil); deal["settled"] != "released" {
			t.Errorf("the deal after its files were read through S3: settled %v", deal["settled"])
		}
	})

	t.Run("anyone else", func(t *testing.T) {
		anon := s.sdk(aws.AnonymousCredentials{})
		_, err := anon.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(d.bucket)})
		if code := mirrorAPICode(err); code != "AccessDenied" {
			t.Errorf("anonymous listing: %v", err)
		}
		_, err = anon.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(d.bucket), Key: aws.String("README.md")})
		if code := mirrorAPICode(err); code != "AccessDenied" {
			t.Errorf("anonymous GetObject: %v", err)
		}
		if b, err := s.getObject(d.bucket, "README.md"); err == nil || !strings.Contains(err.Error(), "403") {
			t.Errorf("plain anonymous GET: %v %q", err, b)
		}
		// Another buyer, and the deal's own provider: neither reads the buyer's data.
		for who, c := range map[string]*s3.Client{"another buyer": s.sdk(mirrorS3Key(d.other, d.otherID)), "the provider": s.sdk(mirrorS3Key(d.agent, d.agentID))} {
			bs, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
			if err != nil || len(bs.Buckets) != 0 {
				t.Errorf("%s's buckets: %v %v", who, bs, err)
			}
			_, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(d.bucket)})
			if code := mirrorAPICode(err); code != "AccessDenied" && code != "NoSuchBucket" {
				t.Errorf("%s lists the deal's bucket: %v", who, err)
			}
			_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(d.bucket), Key: aws.String("README.md")})
			if code := mirrorAPICode(err); code != "AccessDenied" && code != "NoSuchBucket" {
				t.Errorf("%s reads the deal's file: %v", who, err)
			}
		}
	})

	t.Run("revoked key", func(t *testing.T) {
		creds, _ := buyerCreds.Retrieve(ctx)
		d.buyer.call("DELETE", "/api/v1/participants/"+d.buyerID+"/s3-keys/"+creds.AccessKeyID, nil)
		_, err := buyer.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(d.bucket)})
		if code := mirrorAPICode(err); code != "InvalidAccessKeyId" {
			t.Errorf("a revoked key lists: %v", err)
		}
		_, err = buyer.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(d.bucket), Key: aws.String("README.md")})
		if code := mirrorAPICode(err); code != "InvalidAccessKeyId" {
			t.Errorf("a revoked key reads: %v", err)
		}
	})

	t.Run("suspended buyer", func(t *testing.T) {
		before := s.sdk(mirrorS3Key(d.buyer, d.buyerID))
		if _, err := before.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(d.bucket)}); err != nil {
			t.Fatalf("a fresh key of the buyer: %v", err)
		}
		d.op.call("POST", "/api/v1/participants/"+d.buyerID+"/suspend", map[string]any{"reason": "sanctions screening hit"})
		// The buyer itself can no longer issue keys; one the operator issues, like the
		// one issued before, is refused at the endpoint.
		if code, body := s.call(d.buyer.key, "POST", "/api/v1/participants/"+d.buyerID+"/s3-keys", map[string]any{"name": "after"}, nil); code < 400 {
			t.Errorf("a suspended buyer issued itself an S3 key: %d %s", code, body)
		}
		after := s.sdk(mirrorS3Key(d.op, d.buyerID))
		for which, c := range map[string]*s3.Client{"before": before, "after": after} {
			_, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(d.bucket)})
			if code := mirrorAPICode(err); code != "AccessDenied" {
				t.Errorf("the key issued %s the suspension lists: %v", which, err)
			}
			_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(d.bucket), Key: aws.String("README.md")})
			if code := mirrorAPICode(err); code != "AccessDenied" {
				t.Errorf("the key issued %s the suspension reads: %v", which, err)
			}
		}
	})
}
