package blob_test

import (
	"bytes"
	"context"
	"errors"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/blob"
	"github.com/dataport/dataport/internal/faultproxy"
	"github.com/dataport/dataport/internal/fulldisk"
)

// A Put that fills the disk fails as unavailable (the operator frees space, the
// client retries: HTTP 503), not as bad content or an internal fault; it leaves no
// blob and no temporary file; once space is freed the same Put succeeds.
func TestFSDiskFull(t *testing.T) {
	if fulldisk.Isolate(t) {
		return
	}
	disk := fulldisk.Mount(t, 4<<20)
	s, err := blob.OpenFS(filepath.Join(disk, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(disk, "filler")
	fulldisk.Fill(t, filler, 3<<20)
	content := make([]byte, 2<<20)
	mrand.NewChaCha8([32]byte{2}).Read(content)
	sum := hexSum(content)
	if free := fulldisk.Free(t, disk); free >= int64(len(content)) {
		t.Fatalf("%d bytes free: the disk is not full enough for the test", free)
	}

	_, err = s.Put(t.Context(), bytes.NewReader(content), 8<<20, sum)
	if k := dataport.KindOf(err); k != dataport.KindUnavailable || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("put on a full disk: kind %v, want unavailable from ENOSPC: %v", k, err)
	}
	if _, err := s.Stat(t.Context(), sum); dataport.KindOf(err) != dataport.KindNotFound {
		t.Fatalf("after the failed put, stat: %v, want not found", err)
	}
	if l, err := s.Uploads(); err != nil || len(l) > 0 {
		t.Fatalf("the failed put left %v (%v)", l, err)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	info, err := s.Put(t.Context(), bytes.NewReader(content), 8<<20, sum)
	if err != nil || info.SHA256 != sum || info.Size != int64(len(content)) {
		t.Fatalf("put once space is freed: %+v, %v", info, err)
	}
	if l, err := s.Uploads(); err != nil || len(l) > 0 {
		t.Fatalf("the put left %v (%v)", l, err)
	}
}

// isPart tells a request uploading a part of a multipart upload.
func isPart(r *http.Request, n string) bool {
	return r.Method == http.MethodPut && r.URL.Query().Get("uploadId") != "" && r.URL.Query().Get("partNumber") == n
}

// An S3 store failing in the middle of a multipart upload, in the ways an object
// store or the network between fails: the connection cut after some bytes of a part,
// a part answered 503 or 500, and the store gone altogether (even the abort of the
// upload cannot reach it). Each time the Put fails as unavailable; no blob, temporary
// object or multipart upload is left behind (S3's ListMultipartUploads, asked of the
// server itself — at once, or, when the store was gone, by the next Put); and once
// the store is healed the same Put succeeds.
func TestS3FailsMidUpload(t *testing.T) {
	cfg := s3Config(t)
	proxy, err := faultproxy.ListenHTTP("http://" + cfg.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	raw := rawS3(t, cfg) // the server itself, past the proxy
	through := cfg
	through.Endpoint = proxy.Addr()
	s, scfg := openS3(t, through)

	content := make([]byte, 20<<20) // two parts of 16 MiB under a 64 MiB limit
	mrand.NewChaCha8([32]byte{3}).Read(content)
	sum := hexSum(content)
	leftovers := func() []string {
		var out []string
		ctx := context.Background()
		for o := range raw.ListObjectsIter(ctx, cfg.Bucket, minio.ListObjectsOptions{Prefix: scfg.Prefix + "/", Recursive: true}) {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			if !strings.HasSuffix(o.Key, "/") {
				out = append(out, o.Key)
			}
		}
		res, err := minio.Core{Client: raw}.ListMultipartUploads(ctx, cfg.Bucket, scfg.Prefix+"/", "", "", "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range res.Uploads {
			out = append(out, u.Key+" (multipart upload "+u.UploadID+")")
		}
		return out
	}

	for _, c := range []struct {
		name  string
		fault func(r *http.Request) faultproxy.Fault
		// later: the store was gone, abort included: the leftovers go at the next Put.
		later bool
	}{
		{"cut after 1 MiB of part 2", func(r *http.Request) faultproxy.Fault {
			if isPart(r, "2") {
				return faultproxy.Fault{CutAfter: 1 << 20}
			}
			return faultproxy.Fault{}
		}, false},
		{"part 2 answered 503", func(r *http.Request) faultproxy.Fault {
			if isPart(r, "2") {
				return faultproxy.Fault{Status: http.StatusServiceUnavailable, Code: "SlowDown"}
			}
			return faultproxy.Fault{}
		}, false},
		{"part 1 answered 500", func(r *http.Request) faultproxy.Fault {
			if isPart(r, "1") {
				return faultproxy.Fault{Status: http.StatusInternalServerError, Code: "InternalError"}
			}
			return faultproxy.Fault{}
		}, false},
		{"gone after part 1, abort included", func(r *http.Request) faultproxy.Fault {
			switch {
			case isPart(r, "2"):
				return faultproxy.Fault{CutAfter: 1 << 20}
			case r.Method == http.MethodDelete, r.Method == http.MethodGet:
				return faultproxy.Fault{Status: http.StatusServiceUnavailable, Code: "ServiceUnavailable"}
			}
			return faultproxy.Fault{}
		}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := proxy.Faulted.Load()
			proxy.SetFaults(c.fault)
			_, err := s.Put(t.Context(), bytes.NewReader(content), 64<<20, sum)
			proxy.SetFaults(nil)
			if proxy.Faulted.Load() == before {
				t.Fatal("no fault was injected: the test does not test")
			}
			if k := dataport.KindOf(err); k != dataport.KindUnavailable {
				t.Fatalf("put: kind %v, want unavailable: %v", k, err)
			}
			if _, err := s.Stat(t.Context(), sum); dataport.KindOf(err) != dataport.KindNotFound {
				t.Fatalf("after the failed put, stat: %v, want not found", err)
			}
			if l := leftovers(); !c.later && len(l) > 0 {
				t.Fatalf("the failed put left %q", l)
			}

			info, err := s.Put(t.Context(), bytes.NewReader(content), 64<<20, sum)
			if err != nil || info.SHA256 != sum {
				t.Fatalf("put once healed: %+v, %v", info, err)
			}
			if l := leftovers(); len(l) != 1 || !strings.HasSuffix(l[0], "/sha256/"+sum[:2]+"/"+sum[2:4]+"/"+sum) {
				t.Fatalf("after the put once healed the prefix holds %q, want only the blob", l)
			}
			if err := s.Delete(t.Context(), sum); err != nil {
				t.Fatal(err)
			}
		})
	}
}
