package s3api

import (
	"bufio"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// The AWS documentation's example credentials and time, which the seeds below sign.
const (
	fuzzAKID   = "AKIAIOSFODNN7EXAMPLE"
	fuzzSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	fuzzScope  = fuzzAKID + "/20130524/us-east-1/s3/aws4_request"
)

func fuzzVerifier() *verifier {
	return &verifier{region: "us-east-1", keys: mapKeys{fuzzAKID: fuzzSecret},
		now: func() time.Time { return time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC) }}
}

// checkS3Error holds a refusal to what a client is owed: an S3 error of status
// 400 or 403 with a code and a message, never a server fault.
func checkS3Error(t *testing.T, err error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || (e.Status != http.StatusBadRequest && e.Status != http.StatusForbidden) || e.Code == "" || e.Message == "" {
		t.Fatalf("refused with %#v", err)
	}
}

// An Authorization header of any text is read as a SigV4 signature or refused with
// an S3 error; one that is read is scoped to this endpoint, signs the host, the time
// and the payload hash, and renders back to a header that reads the same.
func FuzzSigV4Header(f *testing.F) {
	auth := func(signed, sig string) string {
		return "AWS4-HMAC-SHA256 Credential=" + fuzzScope + ",SignedHeaders=" + signed + ",Signature=" + sig
	}
	f.Add(auth("host;range;x-amz-content-sha256;x-amz-date", "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"),
		"20130524T000000Z", "", emptySHA256, "bytes=0-9")
	f.Add(auth("host;x-amz-content-sha256;x-amz-date", "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"),
		"20130524T000000Z", "", emptySHA256, "")
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/20130524/us-east-1/s3/aws4_request, SignedHeaders=date;host, Signature=00",
		"", "Fri, 24 May 2013 00:00:00 GMT", "", "")
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20130524/eu-west-1/s3/aws4_request,SignedHeaders=host;x-amz-date,Signature=1,Signature=2",
		"20130524T000000Z", "", "UNSIGNED-PAYLOAD", "")
	f.Add("AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=", "", "Fri, 24 May 2013 00:00:00 GMT", "", "")
	f.Add("AWS4-HMAC-SHA256 Credential=/20130524/us-east-1/s3/aws4_request,SignedHeaders=HOST,Signature=", "2013", "", "STREAMING-x", "")
	f.Fuzz(func(t *testing.T, authz, amzDate, date, payload, rng string) {
		v := fuzzVerifier()
		r, err := http.NewRequest(http.MethodGet, "https://examplebucket.s3.amazonaws.com/test.txt", nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, val := range map[string]string{"Authorization": authz, "X-Amz-Date": amzDate, "Date": date,
			"X-Amz-Content-Sha256": payload, "Range": rng} {
			if val != "" {
				r.Header.Set(k, val)
			}
		}
		c, err := v.authenticate(r)
		if err != nil {
			checkS3Error(t, err)
		}
		if !strings.HasPrefix(authz, sigV4Algorithm) {
			return
		}
		a, err := v.parseHeader(r, authz)
		if err != nil {
			checkS3Error(t, err)
			if c.AccessKeyID != "" {
				t.Fatalf("%q authenticated %q but does not parse: %v", authz, c.AccessKeyID, err)
			}
			return
		}
		if c.AccessKeyID != "" && c.AccessKeyID != a.accessKey {
			t.Fatalf("%q authenticated %q, signed by %q", authz, c.AccessKeyID, a.accessKey)
		}
		switch {
		case a.accessKey == "" || a.scopeRegion != v.region || a.scopeService != sigV4Service || a.scopeTerminal != sigV4Terminal:
			t.Fatalf("%q accepted with the scope %s/%s", authz, a.accessKey, a.scope())
		case a.scopeDate != a.amzDate[:8] || a.time.Format(amzDateLayout) != a.amzDate:
			t.Fatalf("%q accepted for %s at %s (%v)", authz, a.scopeDate, a.amzDate, a.time)
		case !slices.Contains(a.signedHeaders, "host") || (payload != "" && !slices.Contains(a.signedHeaders, "x-amz-content-sha256")):
			t.Fatalf("%q accepted without signing host or the payload hash: %v", authz, a.signedHeaders)
		case !validPayloadHash(a.payloadHash):
			t.Fatalf("%q accepted with payload hash %q", authz, a.payloadHash)
		}
		again := sigV4Algorithm + " Credential=" + a.accessKey + "/" + a.scope() +
			",SignedHeaders=" + strings.Join(a.signedHeaders, ";") + ",Signature=" + a.signature
		b, err := v.parseHeader(r, again)
		if err != nil || !reflect.DeepEqual(a, b) {
			t.Fatalf("%q reads as %+v, rendered as %q, which reads as %+v (%v)", authz, a, again, b, err)
		}
	})
}

// A query string of any text, presigned or not, is read or refused with an S3
// error; a presigned URL that is read is scoped to this endpoint, signs the host
// and is within its expiry.
func FuzzSigV4Query(f *testing.F) {
	f.Add("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
	f.Add("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=-1&X-Amz-SignedHeaders=host%3Bx-amz-date&X-Amz-Signature=00&X-Amz-Content-Sha256=UNSIGNED-PAYLOAD")
	f.Add("AWSAccessKeyId=AKID&Expires=1369353600&Signature=abc%3D")
	f.Add("list-type=2&prefix=a%2Fb&max-keys=2&X-Amz-Signature=")
	f.Add("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a%2F2013052&X-Amz-Date=2013052&X-Amz-Expires=604801&X-Amz-SignedHeaders=&X-Amz-Signature=1")
	f.Fuzz(func(t *testing.T, rawQuery string) {
		v := fuzzVerifier()
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(
			"GET /test.txt?" + rawQuery + " HTTP/1.1\r\nHost: examplebucket.s3.amazonaws.com\r\n\r\n")))
		if err != nil {
			return // not a request a server would have read
		}
		c, err := v.authenticate(r)
		if err != nil {
			checkS3Error(t, err)
		}
		q := r.URL.Query()
		if !q.Has("X-Amz-Algorithm") {
			return
		}
		a, err := v.parseQuery(r, q)
		if err != nil {
			checkS3Error(t, err)
			if c.AccessKeyID != "" {
				t.Fatalf("%q authenticated %q but does not parse: %v", rawQuery, c.AccessKeyID, err)
			}
			return
		}
		now := v.now()
		switch {
		case !a.presigned || a.accessKey == "" || a.scopeRegion != v.region || a.scopeService != sigV4Service || a.scopeTerminal != sigV4Terminal:
			t.Fatalf("%q accepted with the scope %s/%s", rawQuery, a.accessKey, a.scope())
		case !slices.Contains(a.signedHeaders, "host"):
			t.Fatalf("%q accepted without signing the host: %v", rawQuery, a.signedHeaders)
		case a.expires < 0 || a.expires > maxPresignExpires || now.After(a.time.Add(time.Duration(a.expires)*time.Second)):
			t.Fatalf("%q accepted, expiring after %ds from %v", rawQuery, a.expires, a.time)
		case a.scopeDate != a.amzDate[:8] || !validPayloadHash(a.payloadHash):
			t.Fatalf("%q accepted as %+v", rawQuery, a)
		}
	})
}

// Any request line is answered, never with a server fault (5xx other than 501); a path splits into the
// bucket and key it names, and a bucket and key escaped back split the same.
func FuzzRequestPath(f *testing.F) {
	b := newDiskBackend(f)
	h := NewHandler(b, testKeys(), Options{Logger: slog.New(slog.DiscardHandler)})
	for _, s := range []string{"/", "/open-data", "/open-data/", "/open-data/README.txt", "/open-data/with%20space/file%20name.txt",
		"/open-data/%E6%95%B0%E6%8D%AE/%E6%8A%A5%E5%91%8A%202024.csv", "/open-data/plus+sign.txt", "/open-data/percent%2541.txt",
		"/open-data?list-type=2&delimiter=/&prefix=data/&max-keys=1", "/open-data?list-type=3", "/open-data?location",
		"/open-data/a%2Fb", "//key", "/open-data/%zz", "/private/notes/readme.md?acl", "/open-data/../private/notes/readme.md",
		"/open-data?marker=data%2F2024&max-keys=-1", "/open-data/big.bin?response-content-type=text%2Fplain"} {
		f.Add("GET", s, "")
	}
	f.Add("HEAD", "/open-data/big.bin", "bytes=10-")
	f.Add("GET", "/open-data/big.bin", "bytes=-5,7-9")
	f.Add("PUT", "/open-data/new.txt", "")
	f.Fuzz(func(t *testing.T, method, target, rng string) {
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(
			method + " " + target + " HTTP/1.1\r\nHost: localhost\r\nRange: " + rng + "\r\n\r\n")))
		if err != nil {
			return // not a request a server would have read
		}
		w := &discard{header: http.Header{}}
		h.ServeHTTP(w, r)
		// 501 is S3's answer to a sub-resource it does not serve; nothing else is
		// a server's fault.
		if w.status >= 500 && w.status != http.StatusNotImplemented {
			t.Fatalf("%s %q (Range %q): status %d", method, target, rng, w.status)
		}
		bucket, key, ok := splitPath(r)
		if !ok {
			return
		}
		segs := strings.Split(key, "/")
		for i, s := range segs {
			segs[i] = url.PathEscape(s)
		}
		u, err := url.Parse("http://localhost/" + url.PathEscape(bucket) + "/" + strings.Join(segs, "/"))
		if err != nil {
			t.Fatal(err)
		}
		b2, k2, ok := splitPath(&http.Request{URL: u})
		if !ok || b2 != bucket || k2 != key {
			t.Fatalf("%q splits to %q, %q; escaped back as %q it splits to %q, %q", target, bucket, key, u, b2, k2)
		}
	})
}

// discard is a ResponseWriter that keeps only the status.
type discard struct {
	header http.Header
	status int
}

func (d *discard) Header() http.Header { return d.header }
func (d *discard) Write(p []byte) (int, error) {
	if d.status == 0 {
		d.status = http.StatusOK
	}
	return len(p), nil
}
func (d *discard) WriteHeader(status int) {
	if d.status == 0 {
		d.status = status
	}
}
