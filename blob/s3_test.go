package blob_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/blob"
	"github.com/dataport/dataport/blob/blobtest"
	"github.com/dataport/dataport/internal/testenv"
)

// The S3 tests need a server. DATAPORT_TEST_S3 names it and a bucket the tests may
// write to (created if missing):
//
//	DATAPORT_TEST_S3=http://ACCESS:SECRET@host:port/bucket
//
// https:// selects TLS; ?region=… sets the region (otherwise the server is asked).
// Every test works under a prefix of its own and removes it afterwards.
const s3Env = "DATAPORT_TEST_S3"

func s3Config(t *testing.T) blob.S3Config {
	t.Helper()
	v := os.Getenv(s3Env)
	if v == "" {
		testenv.Missing(t, s3Env+" not set: set it to http://ACCESS:SECRET@host:port/bucket of an S3-compatible server to test the S3 blob store")
	}
	u, err := url.Parse(v)
	if err != nil {
		t.Fatalf("%s: %v", s3Env, err)
	}
	secret, _ := u.User.Password()
	cfg := blob.S3Config{
		Endpoint:  u.Host,
		Bucket:    strings.Trim(u.Path, "/"),
		Region:    u.Query().Get("region"),
		AccessKey: u.User.Username(),
		SecretKey: secret,
		Secure:    u.Scheme == "https",
	}
	if (u.Scheme != "http" && u.Scheme != "https") || cfg.Endpoint == "" || cfg.Bucket == "" || strings.Contains(cfg.Bucket, "/") {
		t.Fatalf("%s=%s: want http://ACCESS:SECRET@host:port/bucket", s3Env, u.Redacted())
	}
	return cfg
}

// rawS3 is a client of the test server that sees past the store: to check the key
// layout and to clean up.
func rawS3(t *testing.T, cfg blob.S3Config) *minio.Client {
	t.Helper()
	c, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: cfg.Secure,
		Region: cfg.Region,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// openS3 opens a store under a fresh prefix, returned in its configuration, and
// removes everything under that prefix when the test ends.
func openS3(t *testing.T, cfg blob.S3Config) (*blob.S3, blob.S3Config) {
	t.Helper()
	cfg.Prefix = "blobtest/" + rand.Text()
	s, err := blob.OpenS3(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c := rawS3(t, cfg)
		for o := range c.ListObjectsIter(ctx, cfg.Bucket, minio.ListObjectsOptions{Prefix: cfg.Prefix + "/", Recursive: true}) {
			if o.Err != nil {
				t.Logf("cleaning up %s: %v", cfg.Prefix, o.Err)
				break
			}
			c.RemoveObject(ctx, cfg.Bucket, o.Key, minio.RemoveObjectOptions{})
		}
		for u := range c.ListIncompleteUploads(ctx, cfg.Bucket, cfg.Prefix+"/", true) {
			if u.Err == nil {
				c.RemoveIncompleteUpload(ctx, cfg.Bucket, u.Key)
			}
		}
	})
	return s, cfg
}

func s3Leftovers(s blob.Store) []string {
	l, err := s.(*blob.S3).Uploads(context.Background())
	if err != nil {
		return []string{err.Error()}
	}
	return l
}

func TestS3(t *testing.T) {
	cfg := s3Config(t)
	blobtest.Run(t, func(t *testing.T) blob.Store {
		s, _ := openS3(t, cfg)
		return s
	}, s3Leftovers)
}

func hexSum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// A blob lives at <prefix>/sha256/ab/cd/<sum> and nothing else stays under the
// prefix; stores under different prefixes of one bucket do not see each other's blobs.
func TestS3KeyLayoutAndPrefixes(t *testing.T) {
	cfg := s3Config(t)
	ctx := t.Context()
	a, acfg := openS3(t, cfg)
	b, _ := openS3(t, cfg)
	info, err := a.Put(ctx, strings.NewReader("layout"), 100, "")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for o := range rawS3(t, cfg).ListObjectsIter(ctx, cfg.Bucket, minio.ListObjectsOptions{Prefix: acfg.Prefix + "/", Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		if !strings.HasSuffix(o.Key, "/") { // a directory, on servers that store keys as paths
			keys = append(keys, o.Key)
		}
	}
	sum := info.SHA256
	want := acfg.Prefix + "/sha256/" + sum[:2] + "/" + sum[2:4] + "/" + sum
	if len(keys) != 1 || keys[0] != want {
		t.Fatalf("keys %q, want only %q", keys, want)
	}
	if _, err := b.Stat(ctx, sum); dataport.KindOf(err) != dataport.KindNotFound {
		t.Fatalf("another prefix sees the blob: %v", err)
	}
	if err := b.Delete(ctx, sum); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Stat(ctx, sum); err != nil {
		t.Fatalf("a delete under another prefix removed the blob: %v", err)
	}
}

// Content of several parts is uploaded part by part and copied whole; too much of it
// is refused once the limit is passed, and the parts already sent are dropped.
func TestS3MultipartContent(t *testing.T) {
	cfg := s3Config(t)
	ctx := t.Context()
	s, _ := openS3(t, cfg)
	content := make([]byte, 40<<20+12345) // three parts of 16 MiB
	mrand.NewChaCha8([32]byte{1}).Read(content)

	info, err := s.Put(ctx, bytes.NewReader(content), 64<<20, hexSum(content))
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != int64(len(content)) {
		t.Fatalf("put = %+v, want %d bytes", info, len(content))
	}
	o, err := s.Open(ctx, info.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	h := sha256.New()
	if n, err := io.Copy(h, o); err != nil || n != int64(len(content)) || hex.EncodeToString(h.Sum(nil)) != info.SHA256 {
		t.Fatalf("read back %d bytes (%v), want %d hashing to %s", n, err, len(content), info.SHA256)
	}
	// A range across the boundary of the first two parts.
	if _, err := o.Seek(16<<20-10, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	part := make([]byte, 20)
	if _, err := io.ReadFull(o, part); err != nil || !bytes.Equal(part, content[16<<20-10:16<<20+10]) {
		t.Fatalf("range across parts: %x (%v)", part, err)
	}

	_, err = s.Put(ctx, bytes.NewReader(content), 20<<20, "")
	if dataport.KindOf(err) != dataport.KindTooLarge {
		t.Fatalf("put of 40 MiB with a limit of 20 MiB: %v, want too large", err)
	}
	if l := s3Leftovers(s); len(l) > 0 {
		t.Fatalf("a refused multipart put left %v", l)
	}
}

// Uploads reports both kinds of leftovers, temporary objects and multipart uploads,
// and OpenS3 sweeps only those old enough to be abandoned: fresh ones stay.
func TestS3UploadsAndSweep(t *testing.T) {
	cfg := s3Config(t)
	ctx := t.Context()
	s, scfg := openS3(t, cfg)
	raw := rawS3(t, cfg)
	if _, err := raw.PutObject(ctx, cfg.Bucket, scfg.Prefix+"/tmp/put-running", strings.NewReader("half"), 4, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	id, err := minio.Core{Client: raw}.NewMultipartUpload(ctx, cfg.Bucket, scfg.Prefix+"/tmp/put-parts", minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"tmp/put-running", "tmp/put-parts (multipart upload " + id + ")"}
	if l := s3Leftovers(s); !slices.Equal(l, want) {
		t.Fatalf("uploads %q, want %q", l, want)
	}
	s, err = blob.OpenS3(ctx, scfg)
	if err != nil {
		t.Fatal(err)
	}
	if l := s3Leftovers(s); !slices.Equal(l, want) {
		t.Fatalf("after reopening: %q, want %q", l, want)
	}
}

// Without a server: configuration mistakes are refused before any request, and a
// server that does not answer is unavailable, not an internal fault.
func TestOpenS3Errors(t *testing.T) {
	ctx := t.Context()
	for _, cfg := range []blob.S3Config{
		{Endpoint: "", Bucket: "b"},
		{Endpoint: "127.0.0.1:9000"},
		{Endpoint: "ftp://127.0.0.1:9000", Bucket: "b"},
		{Endpoint: "http://127.0.0.1:9000/b", Bucket: "b"},
		{Endpoint: "http://key:secret@127.0.0.1:9000", Bucket: "b"},
		{Endpoint: "127.0.0.1:9000", Bucket: "b", Prefix: "../x"},
		{Endpoint: "127.0.0.1:9000", Bucket: "b", Prefix: "/x"},
		{Endpoint: "127.0.0.1:9000", Bucket: "b", Prefix: "a//b"},
	} {
		if _, err := blob.OpenS3(ctx, cfg); dataport.KindOf(err) != dataport.KindInvalid {
			t.Errorf("OpenS3(%+v): %v, want invalid", cfg, err)
		}
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	tctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	_, err = blob.OpenS3(tctx, blob.S3Config{Endpoint: "http://" + closed, Bucket: "dataport-test", AccessKey: "a", SecretKey: "b"})
	if dataport.KindOf(err) != dataport.KindUnavailable {
		t.Fatalf("OpenS3 of a closed port: %v, want unavailable", err)
	}
}
