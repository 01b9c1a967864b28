package s3api

import (
	"bytes"
	"context"
	"encoding/xml"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go/encoding/httpbinding"
)

// testServer is the endpoint over the disk fixture, on a real HTTP server.
type testServer struct {
	*httptest.Server
	backend *diskBackend
}

func newTestServer(t *testing.T, opts Options) *testServer {
	t.Helper()
	d := newDiskBackend(t)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testLogWriter{t}, nil))
	}
	srv := httptest.NewServer(NewHandler(d, testKeys(), opts))
	t.Cleanup(srv.Close)
	return &testServer{Server: srv, backend: d}
}

// host is the server's host:port.
func (s *testServer) host() string { return strings.TrimPrefix(s.URL, "http://") }

// objectURL is the path-style URL of a key, escaped as the SDKs escape it.
func (s *testServer) objectURL(bucket, key string) string {
	u := s.URL + "/" + bucket
	if key != "" {
		u += "/" + httpbinding.EscapePath(key, false)
	}
	return u
}

type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// signHeader signs req with the Authorization header the way the AWS SDK does for
// S3, at time at.
func signHeader(t *testing.T, req *http.Request, access, secret, region string, at time.Time) {
	t.Helper()
	req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
	s := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	err := s.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: access, SecretAccessKey: secret},
		req, emptySHA256, "s3", region, at)
	if err != nil {
		t.Fatal(err)
	}
}

// presign returns a presigned URL for a GET of rawURL.
func presign(t *testing.T, rawURL, access, secret, region string, at time.Time, expires time.Duration) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	q := req.URL.Query()
	q.Set("X-Amz-Expires", strconv.FormatInt(int64(expires/time.Second), 10))
	req.URL.RawQuery = q.Encode()
	s := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	u, _, err := s.PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: access, SecretAccessKey: secret},
		req, unsignedPayload, "s3", region, at)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends req and reads the whole response.
func do(t *testing.T, req *http.Request) response {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", req.Method, req.URL, err)
	}
	if res.Header.Get("x-amz-request-id") == "" {
		t.Errorf("%s %s: no x-amz-request-id", req.Method, req.URL)
	}
	return response{status: res.StatusCode, header: res.Header, body: body}
}

func get(t *testing.T, rawURL string, header ...string) response {
	t.Helper()
	return send(t, http.MethodGet, rawURL, header...)
}

func send(t *testing.T, method, rawURL string, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return do(t, req)
}

// signedGet sends a GET signed by the entitled test key.
func signedGet(t *testing.T, rawURL string, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	signHeader(t, req, testAccessKey, testSecretKey, "us-east-1", time.Now())
	return do(t, req)
}

type xmlError struct {
	Code      string
	Message   string
	Resource  string
	RequestID string `xml:"RequestId"`
	Region    string
}

// wantError checks an S3 error response.
func wantError(t *testing.T, r response, status int, code string) xmlError {
	t.Helper()
	var e xmlError
	if r.status != status {
		t.Errorf("status %d, want %d (body %s)", r.status, status, r.body)
	}
	if err := xml.Unmarshal(r.body, &e); err != nil {
		t.Errorf("error body %q: %v", r.body, err)
		return e
	}
	if e.Code != code {
		t.Errorf("code %q, want %q (message %q)", e.Code, code, e.Message)
	}
	if e.RequestID == "" || e.RequestID != r.header.Get("x-amz-request-id") {
		t.Errorf("RequestId %q, header %q", e.RequestID, r.header.Get("x-amz-request-id"))
	}
	if ct := r.header.Get("Content-Type"); ct != "application/xml" {
		t.Errorf("Content-Type %q", ct)
	}
	return e
}

// syncBuffer is a log sink the server writes while the test reads.
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

// newHandlerServer serves b with the test keys, logging to logs; it returns the URL.
func newHandlerServer(t *testing.T, b Backend, logs *syncBuffer) string {
	t.Helper()
	srv := httptest.NewServer(NewHandler(b, testKeys(), Options{Logger: slog.New(slog.NewTextHandler(logs, nil))}))
	t.Cleanup(srv.Close)
	return srv.URL
}
