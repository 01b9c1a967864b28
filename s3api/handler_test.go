package s3api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport"
)

type xmlListResult struct {
	Name                  string
	Prefix                string
	Marker                string
	NextMarker            string
	ContinuationToken     string
	NextContinuationToken string
	StartAfter            string
	KeyCount              int
	MaxKeys               int
	Delimiter             string
	EncodingType          string
	IsTruncated           bool
	Contents              []struct {
		Key          string
		ETag         string
		Size         int64
		LastModified string
		Owner        *struct{ ID string }
	}
	CommonPrefixes []struct{ Prefix string }
}

func parseList(t *testing.T, r response) xmlListResult {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("list: status %d: %s", r.status, r.body)
	}
	var l xmlListResult
	if err := xml.Unmarshal(r.body, &l); err != nil {
		t.Fatalf("list: %v: %s", err, r.body)
	}
	return l
}

func TestListBuckets(t *testing.T) {
	s := newTestServer(t, Options{})
	var res struct {
		Owner   struct{ ID string }
		Buckets struct {
			Bucket []struct{ Name, CreationDate string }
		}
	}
	for _, tc := range []struct {
		name   string
		resp   response
		bucket []string
	}{
		{"anonymous", get(t, s.URL+"/"), []string{publicBucket}},
		{"signed", signedGet(t, s.URL+"/"), []string{publicBucket, privateBucket}},
	} {
		if tc.resp.status != 200 {
			t.Fatalf("%s: %d %s", tc.name, tc.resp.status, tc.resp.body)
		}
		res.Buckets.Bucket = nil
		if err := xml.Unmarshal(tc.resp.body, &res); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, b := range res.Buckets.Bucket {
			names = append(names, b.Name)
			if b.CreationDate != "2024-01-01T00:00:00.000Z" {
				t.Errorf("CreationDate %q", b.CreationDate)
			}
		}
		slices.Sort(tc.bucket)
		if !slices.Equal(names, tc.bucket) {
			t.Errorf("%s: buckets %v, want %v", tc.name, names, tc.bucket)
		}
		if res.Owner.ID == "" {
			t.Errorf("%s: no owner", tc.name)
		}
		if !bytes.Contains(tc.resp.body, []byte(`xmlns="http://s3.amazonaws.com/doc/2006-03-01/"`)) {
			t.Errorf("%s: no S3 namespace: %s", tc.name, tc.resp.body)
		}
	}
}

func TestObjectRanges(t *testing.T) {
	s := newTestServer(t, Options{})
	big := bigContents()
	size := int64(len(big))
	u := s.objectURL(publicBucket, bigKey)
	sz := strconv.FormatInt(size, 10)
	for _, tc := range []struct {
		rng          string
		status       int
		from, to     int64 // inclusive; the whole object when to < 0
		contentRange string
	}{
		{"", 200, 0, -1, ""},
		{"bytes=0-9", 206, 0, 9, "bytes 0-9/" + sz},
		{"bytes=100-", 206, 100, size - 1, "bytes 100-" + strconv.FormatInt(size-1, 10) + "/" + sz},
		{"bytes=-10", 206, size - 10, size - 1, "bytes " + strconv.FormatInt(size-10, 10) + "-" + strconv.FormatInt(size-1, 10) + "/" + sz},
		{"bytes=-99999999", 206, 0, size - 1, "bytes 0-" + strconv.FormatInt(size-1, 10) + "/" + sz},
		{"bytes=1000-99999999", 206, 1000, size - 1, "bytes 1000-" + strconv.FormatInt(size-1, 10) + "/" + sz},
		{"bytes=" + strconv.FormatInt(size-1, 10) + "-", 206, size - 1, size - 1, "bytes " + strconv.FormatInt(size-1, 10) + "-" + strconv.FormatInt(size-1, 10) + "/" + sz},
		// Ignored as S3 ignores them: the whole object, 200.
		{"bytes=5-2", 200, 0, -1, ""},
		{"bytes=0-1,5-6", 200, 0, -1, ""},
		{"bytes=abc", 200, 0, -1, ""},
		{"bytes=+1-2", 200, 0, -1, ""},
		{"items=0-1", 200, 0, -1, ""},
		// Unsatisfiable.
		{"bytes=" + sz + "-", 416, 0, 0, "bytes */" + sz},
		{"bytes=" + sz + "-" + strconv.FormatInt(size+10, 10), 416, 0, 0, "bytes */" + sz},
		{"bytes=-0", 416, 0, 0, "bytes */" + sz},
	} {
		t.Run(tc.rng, func(t *testing.T) {
			r := get(t, u, "Range", tc.rng)
			if r.header.Get("Content-Range") != tc.contentRange {
				t.Errorf("Content-Range %q, want %q", r.header.Get("Content-Range"), tc.contentRange)
			}
			if tc.status == 416 {
				wantError(t, r, 416, "InvalidRange")
				return
			}
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			want := big
			if tc.to >= 0 {
				want = big[tc.from : tc.to+1]
			}
			if !bytes.Equal(r.body, want) {
				t.Errorf("body: %d bytes, want %d", len(r.body), len(want))
			}
			if r.header.Get("Content-Length") != strconv.Itoa(len(want)) {
				t.Errorf("Content-Length %q, want %d", r.header.Get("Content-Length"), len(want))
			}
			if r.header.Get("Accept-Ranges") != "bytes" {
				t.Errorf("Accept-Ranges %q", r.header.Get("Accept-Ranges"))
			}
		})
	}

	t.Run("HEAD with range", func(t *testing.T) {
		r := send(t, http.MethodHead, u, "Range", "bytes=10-19")
		if r.status != 206 || r.header.Get("Content-Length") != "10" || r.header.Get("Content-Range") != "bytes 10-19/"+sz || len(r.body) != 0 {
			t.Errorf("HEAD: %d %v %q", r.status, r.header, r.body)
		}
	})
	t.Run("empty object", func(t *testing.T) {
		r := get(t, s.objectURL(publicBucket, "empty.txt"))
		if r.status != 200 || len(r.body) != 0 || r.header.Get("Content-Length") != "0" {
			t.Errorf("empty: %d %v", r.status, r.header)
		}
		wantError(t, get(t, s.objectURL(publicBucket, "empty.txt"), "Range", "bytes=0-"), 416, "InvalidRange")
	})
}

func TestObjectHeaders(t *testing.T) {
	s := newTestServer(t, Options{})
	r := get(t, s.objectURL(publicBucket, "data/2024/jan.csv"))
	info, err := s.backend.stat(publicBucket, "data/2024/jan.csv")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"Content-Length": strconv.FormatInt(info.Size, 10),
		"ETag":           `"` + info.ETag + `"`,
		"Last-Modified":  "Fri, 01 Mar 2024 12:00:00 GMT",
		"Content-Type":   "text/csv; charset=utf-8",
		"Accept-Ranges":  "bytes",
	}
	for k, v := range want {
		if got := r.header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	if r.status != 200 || string(r.body) != "month,value\njan,1\n" {
		t.Errorf("%d %q", r.status, r.body)
	}
	if ct := get(t, s.objectURL(publicBucket, bigKey)).header.Get("Content-Type"); ct != "application/octet-stream" {
		t.Errorf("default Content-Type %q", ct)
	}
}

func TestConditionalRequests(t *testing.T) {
	s := newTestServer(t, Options{})
	key := "README.txt"
	info, err := s.backend.stat(publicBucket, key)
	if err != nil {
		t.Fatal(err)
	}
	etag := `"` + info.ETag + `"`
	before := info.LastModified.Add(-time.Hour).UTC().Format(http.TimeFormat)
	at := info.LastModified.UTC().Format(http.TimeFormat)
	after := info.LastModified.Add(time.Hour).UTC().Format(http.TimeFormat)
	for _, tc := range []struct {
		name   string
		header []string
		status int
	}{
		{"If-None-Match same", []string{"If-None-Match", etag}, 304},
		{"If-None-Match unquoted", []string{"If-None-Match", info.ETag}, 304},
		{"If-None-Match list", []string{"If-None-Match", `"x", ` + etag}, 304},
		{"If-None-Match star", []string{"If-None-Match", "*"}, 304},
		{"If-None-Match other", []string{"If-None-Match", `"other"`}, 200},
		{"If-Match same", []string{"If-Match", etag}, 200},
		{"If-Match other", []string{"If-Match", `"other"`}, 412},
		{"If-Modified-Since at", []string{"If-Modified-Since", at}, 304},
		{"If-Modified-Since after", []string{"If-Modified-Since", after}, 304},
		{"If-Modified-Since before", []string{"If-Modified-Since", before}, 200},
		{"If-Modified-Since garbage", []string{"If-Modified-Since", "yesterday"}, 200},
		{"If-Unmodified-Since before", []string{"If-Unmodified-Since", before}, 412},
		{"If-Unmodified-Since at", []string{"If-Unmodified-Since", at}, 200},
		// S3: If-Match true and If-Unmodified-Since false → 200.
		{"If-Match wins over If-Unmodified-Since", []string{"If-Match", etag, "If-Unmodified-Since", before}, 200},
		// S3: If-None-Match false and If-Modified-Since true → 304.
		{"If-None-Match wins over If-Modified-Since", []string{"If-None-Match", etag, "If-Modified-Since", before}, 304},
		{"412 before 304", []string{"If-Match", `"other"`, "If-None-Match", etag}, 412},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := get(t, s.objectURL(publicBucket, key), tc.header...)
			switch tc.status {
			case 412:
				wantError(t, r, 412, "PreconditionFailed")
			case 304:
				if r.status != 304 || len(r.body) != 0 || r.header.Get("ETag") != etag {
					t.Errorf("%d %v %q", r.status, r.header, r.body)
				}
			default:
				if r.status != tc.status || string(r.body) != "hello open data\n" {
					t.Errorf("%d %q", r.status, r.body)
				}
			}
			h := send(t, http.MethodHead, s.objectURL(publicBucket, key), tc.header...)
			if h.status != tc.status || len(h.body) != 0 {
				t.Errorf("HEAD: %d %q", h.status, h.body)
			}
		})
	}
}

func TestErrorsAndHead(t *testing.T) {
	s := newTestServer(t, Options{})
	t.Run("NoSuchKey", func(t *testing.T) {
		r := get(t, s.objectURL(publicBucket, "no/such key.txt"))
		e := wantError(t, r, 404, "NoSuchKey")
		if e.Resource != "/open-data/no/such key.txt" {
			t.Errorf("Resource %q", e.Resource)
		}
	})
	t.Run("NoSuchBucket", func(t *testing.T) {
		wantError(t, get(t, s.objectURL("nope", "x")), 404, "NoSuchBucket")
		wantError(t, get(t, s.URL+"/nope?list-type=2"), 404, "NoSuchBucket")
		wantError(t, get(t, s.URL+"/nope"), 404, "NoSuchBucket")
		wantError(t, get(t, s.URL+"/nope?location"), 404, "NoSuchBucket")
	})
	t.Run("AccessDenied", func(t *testing.T) {
		wantError(t, get(t, s.objectURL(privateBucket, privateKey)), 403, "AccessDenied")
		wantError(t, get(t, s.URL+"/"+privateBucket+"?list-type=2"), 403, "AccessDenied")
		// A valid key without entitlement.
		req, _ := http.NewRequest(http.MethodGet, s.objectURL(privateBucket, privateKey), nil)
		signHeader(t, req, otherAccessKey, otherSecretKey, "us-east-1", time.Now())
		wantError(t, do(t, req), 403, "AccessDenied")
	})
	t.Run("HEAD has no body", func(t *testing.T) {
		for _, tc := range []struct {
			url    string
			status int
		}{
			{s.objectURL(publicBucket, "missing.txt"), 404},
			{s.objectURL("nope", "missing.txt"), 404},
			{s.objectURL(privateBucket, privateKey), 403},
			{s.URL + "/nope", 404},
			{s.URL + "/" + privateBucket, 403},
			{s.URL + "/" + publicBucket, 200},
		} {
			r := send(t, http.MethodHead, tc.url)
			if r.status != tc.status || len(r.body) != 0 {
				t.Errorf("HEAD %s: %d %q, want %d and no body", tc.url, r.status, r.body, tc.status)
			}
		}
		r := send(t, http.MethodHead, s.URL+"/"+publicBucket)
		if r.header.Get("x-amz-bucket-region") != "us-east-1" {
			t.Errorf("x-amz-bucket-region %q", r.header.Get("x-amz-bucket-region"))
		}
	})
	t.Run("signed with the entitled key", func(t *testing.T) {
		r := signedGet(t, s.objectURL(privateBucket, privateKey))
		if r.status != 200 || string(r.body) != privateContents {
			t.Errorf("%d %q", r.status, r.body)
		}
	})
}

func TestWritesAndSubresourcesRefused(t *testing.T) {
	s := newTestServer(t, Options{})
	for _, tc := range []struct {
		method, url string
		status      int
		code        string
	}{
		{http.MethodPut, s.objectURL(publicBucket, "new.txt"), 405, "MethodNotAllowed"},
		{http.MethodDelete, s.objectURL(publicBucket, "README.txt"), 405, "MethodNotAllowed"},
		{http.MethodPost, s.URL + "/" + publicBucket + "?delete", 405, "MethodNotAllowed"},
		{http.MethodPut, s.URL + "/newbucket", 405, "MethodNotAllowed"},
		{http.MethodDelete, s.URL + "/" + publicBucket, 405, "MethodNotAllowed"},
		{http.MethodPost, s.objectURL(publicBucket, "big.bin") + "?uploads", 405, "MethodNotAllowed"},
		{http.MethodPut, s.URL + "/" + publicBucket + "?acl", 405, "MethodNotAllowed"},
		{http.MethodGet, s.URL + "/" + publicBucket + "?acl", 501, "NotImplemented"},
		{http.MethodGet, s.URL + "/" + publicBucket + "?versioning", 501, "NotImplemented"},
		{http.MethodGet, s.URL + "/" + publicBucket + "?policy", 501, "NotImplemented"},
		{http.MethodGet, s.URL + "/" + publicBucket + "?versions", 501, "NotImplemented"},
		{http.MethodGet, s.URL + "/" + publicBucket + "?uploads", 501, "NotImplemented"},
		{http.MethodGet, s.objectURL(publicBucket, "README.txt") + "?tagging", 501, "NotImplemented"},
		{http.MethodGet, s.objectURL(publicBucket, "README.txt") + "?acl", 501, "NotImplemented"},
		{http.MethodGet, s.objectURL(publicBucket, "README.txt") + "?versionId=3HL4kqtJlcpXroDTDmJ", 404, "NoSuchVersion"},
		{http.MethodGet, s.objectURL(publicBucket, "README.txt") + "?partNumber=2", 416, "InvalidPartNumber"},
	} {
		t.Run(tc.method+" "+strings.TrimPrefix(tc.url, s.URL), func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, tc.url, strings.NewReader("some body"))
			r := do(t, req)
			wantError(t, r, tc.status, tc.code)
			if tc.status == 405 && r.header.Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow %q", r.header.Get("Allow"))
			}
		})
	}
	// A signed write is refused the same way, after its signature is checked.
	req, _ := http.NewRequest(http.MethodPut, s.objectURL(privateBucket, "x.txt"), nil)
	signHeader(t, req, testAccessKey, testSecretKey, "us-east-1", time.Now())
	wantError(t, do(t, req), 405, "MethodNotAllowed")
	// Reads that some tools add parameters to still work.
	for _, q := range []string{"?x-id=GetObject", "?versionId=null", "?partNumber=1"} {
		if r := get(t, s.objectURL(publicBucket, "README.txt")+q); r.status != 200 || string(r.body) != "hello open data\n" {
			t.Errorf("%s: %d %s", q, r.status, r.body)
		}
	}
}

func TestKeyEscaping(t *testing.T) {
	s := newTestServer(t, Options{})
	for _, tc := range []struct {
		path string // as sent, escaped
		want string // the file's contents, "" for 404
	}{
		{"/open-data/plus+sign.txt", "plus\n"}, // '+' in a path is a plus
		{"/open-data/plus%2Bsign.txt", "plus\n"},
		{"/open-data/percent%2541.txt", "a literal percent-four-one, not an A\n"},
		{"/open-data/percent%41.txt", ""}, // that is percentA.txt
		{"/open-data/with%20space/file%20name.txt", "spaces in the key\n"},
		{"/open-data/" + url.PathEscape("数据") + "/" + url.PathEscape("报告 2024.csv"), "地区,数值\n北京,1\n"},
		{"/open-data/a&b=c~d.txt", "ampersand, equals, tilde\n"},
		{"/open-data/a%26b%3Dc%7Ed.txt", "ampersand, equals, tilde\n"},
		{"/open-data/data%2F2024%2Fjan.csv", "month,value\njan,1\n"},
		{"/open-data/data//2024/jan.csv", ""},
		{"/open-data/./README.txt", ""},
	} {
		r := get(t, s.URL+tc.path)
		if tc.want == "" {
			wantError(t, r, 404, "NoSuchKey")
			continue
		}
		if r.status != 200 || string(r.body) != tc.want {
			t.Errorf("GET %s: %d %q, want %q", tc.path, r.status, r.body, tc.want)
		}
		// The same request signed, as a client would send it.
		if r := signedGet(t, s.URL+tc.path); r.status != 200 {
			t.Errorf("signed GET %s: %d %s", tc.path, r.status, r.body)
		}
	}
}

func TestResponseOverrides(t *testing.T) {
	s := newTestServer(t, Options{})
	q := "?response-content-type=text%2Fplain&response-content-disposition=" + url.QueryEscape(`attachment; filename="r.csv"`) + "&response-cache-control=no-cache"
	r := signedGet(t, s.objectURL(privateBucket, privateKey)+q)
	if r.status != 200 || r.header.Get("Content-Type") != "text/plain" ||
		r.header.Get("Content-Disposition") != `attachment; filename="r.csv"` || r.header.Get("Cache-Control") != "no-cache" {
		t.Errorf("signed: %d %v", r.status, r.header)
	}
	u := presign(t, s.objectURL(privateBucket, privateKey)+q, testAccessKey, testSecretKey, "us-east-1", time.Now(), time.Minute)
	if r := get(t, u); r.status != 200 || r.header.Get("Content-Type") != "text/plain" {
		t.Errorf("presigned: %d %v %s", r.status, r.header, r.body)
	}
	// Anonymous requests may not override headers (S3 refuses them).
	wantError(t, get(t, s.objectURL(publicBucket, "README.txt")+q), 400, "InvalidRequest")
}

func TestListObjectsV2Parameters(t *testing.T) {
	s := newTestServer(t, Options{})
	base := s.URL + "/" + publicBucket + "?list-type=2"
	for _, q := range []string{"&max-keys=abc", "&max-keys=-1", "&max-keys=1.5", "&max-keys=", "&encoding-type=base64",
		"&continuation-token=%21%21%21", "&continuation-token=", "&continuation-token=" + base64.RawURLEncoding.EncodeToString([]byte("garbage")),
		"&delimiter=ab"} {
		wantError(t, get(t, base+q), 400, "InvalidArgument")
	}
	wantError(t, get(t, s.URL+"/"+publicBucket+"?list-type=3"), 400, "InvalidArgument")

	// A token is only good for the listing it came from.
	l := parseList(t, get(t, base+"&prefix=many/&max-keys=2"))
	if !l.IsTruncated || l.NextContinuationToken == "" {
		t.Fatalf("not truncated: %+v", l)
	}
	tok := url.QueryEscape(l.NextContinuationToken)
	wantError(t, get(t, base+"&prefix=data/&continuation-token="+tok), 400, "InvalidArgument")
	wantError(t, get(t, base+"&prefix=many/&delimiter=/&continuation-token="+tok), 400, "InvalidArgument")
	if l := parseList(t, get(t, base+"&prefix=many/&max-keys=2&continuation-token="+tok)); l.KeyCount != 2 || l.Contents[0].Key != "many/0002.txt" {
		t.Errorf("second page: %+v", l)
	}

	// max-keys is clamped to 1000; 0 lists nothing but still checks the bucket.
	if l := parseList(t, get(t, base+"&max-keys=5000")); l.MaxKeys != 1000 || l.IsTruncated {
		t.Errorf("max-keys=5000: MaxKeys %d truncated %v", l.MaxKeys, l.IsTruncated)
	}
	if l := parseList(t, get(t, base+"&max-keys=99999999999999999999")); l.MaxKeys != 1000 {
		t.Errorf("huge max-keys: MaxKeys %d", l.MaxKeys)
	}
	if l := parseList(t, get(t, base+"&max-keys=0")); l.KeyCount != 0 || len(l.Contents) != 0 || l.IsTruncated {
		t.Errorf("max-keys=0: %+v", l)
	}
	wantError(t, get(t, s.URL+"/nope?list-type=2&max-keys=0"), 404, "NoSuchBucket")

	// fetch-owner, and the fields S3 echoes.
	l = parseList(t, get(t, base+"&prefix=data/&delimiter=/&fetch-owner=true&start-after=data/2024/zzz"))
	if l.Name != publicBucket || l.Prefix != "data/" || l.Delimiter != "/" || l.StartAfter != "data/2024/zzz" || l.KeyCount != 2 ||
		len(l.CommonPrefixes) != 1 || l.CommonPrefixes[0].Prefix != "data/2025/" ||
		len(l.Contents) != 1 || l.Contents[0].Key != "data/summary.json" || l.Contents[0].Owner == nil {
		t.Errorf("echo: %+v", l)
	}
	if l := parseList(t, get(t, base+"&prefix=data/2024/")); len(l.Contents) != 2 || l.Contents[0].Owner != nil ||
		!strings.HasPrefix(l.Contents[0].ETag, `"`) || l.Contents[0].LastModified != "2024-03-01T12:00:00.000Z" {
		t.Errorf("no fetch-owner: %+v", l)
	}

	// encoding-type=url encodes what S3 encodes.
	l = parseList(t, get(t, base+"&encoding-type=url&prefix="+url.QueryEscape("数据/")+"&delimiter=/"))
	if l.EncodingType != "url" || l.Prefix != "%E6%95%B0%E6%8D%AE/" || len(l.Contents) != 1 ||
		l.Contents[0].Key != "%E6%95%B0%E6%8D%AE/%E6%8A%A5%E5%91%8A+2024.csv" {
		t.Errorf("encoding-type=url: %+v", l)
	}
	l = parseList(t, get(t, base+"&encoding-type=url"))
	var keys []string
	for _, c := range l.Contents {
		k, err := url.QueryUnescape(c.Key)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	for _, k := range []string{"plus+sign.txt", "percent%41.txt", "a&b=c~d.txt", spaceKey, chineseKey} {
		if !slices.Contains(keys, k) {
			t.Errorf("encoded listing lacks %q: %v", k, keys)
		}
	}
}

// fullListing lists a whole bucket in one page, for comparison with paged listings.
func fullListing(t *testing.T, s *testServer, prefix, delimiter string) (keys, prefixes []string) {
	l := parseList(t, get(t, s.URL+"/"+publicBucket+"?list-type=2&prefix="+url.QueryEscape(prefix)+"&delimiter="+url.QueryEscape(delimiter)))
	if l.IsTruncated {
		t.Fatal("fixture listing truncated")
	}
	for _, c := range l.Contents {
		keys = append(keys, c.Key)
	}
	for _, p := range l.CommonPrefixes {
		prefixes = append(prefixes, p.Prefix)
	}
	return keys, prefixes
}

func TestListPaging(t *testing.T) {
	s := newTestServer(t, Options{})
	for _, prefix := range []string{"", "data/", "many/", "z"} {
		for _, delimiter := range []string{"", "/"} {
			wantKeys, wantPrefixes := fullListing(t, s, prefix, delimiter)
			for _, max := range []int{1, 2, 3, 7, 1000} {
				for _, encode := range []bool{false, true} {
					name := "prefix=" + prefix + ",delimiter=" + delimiter + ",max-keys=" + strconv.Itoa(max) + ",url=" + strconv.FormatBool(encode)
					params := "&prefix=" + url.QueryEscape(prefix) + "&delimiter=" + url.QueryEscape(delimiter) + "&max-keys=" + strconv.Itoa(max)
					if encode {
						params += "&encoding-type=url"
					}
					dec := func(s string) string {
						if !encode {
							return s
						}
						d, err := url.QueryUnescape(s)
						if err != nil {
							t.Fatal(err)
						}
						return d
					}
					check := func(api string, keys, prefixes []string) {
						if !slices.Equal(keys, wantKeys) || !slices.Equal(prefixes, wantPrefixes) {
							t.Errorf("%s %s:\nkeys %q\nwant %q\nprefixes %q\nwant %q", api, name, keys, wantKeys, prefixes, wantPrefixes)
						}
					}

					// V2: continuation tokens.
					var keys, prefixes []string
					token := ""
					for page := 0; ; page++ {
						u := s.URL + "/" + publicBucket + "?list-type=2" + params
						if page > 0 {
							u += "&continuation-token=" + url.QueryEscape(token)
						}
						l := parseList(t, get(t, u))
						if l.KeyCount != len(l.Contents)+len(l.CommonPrefixes) || l.KeyCount > max {
							t.Fatalf("%s: KeyCount %d", name, l.KeyCount)
						}
						for _, c := range l.Contents {
							keys = append(keys, dec(c.Key))
						}
						for _, p := range l.CommonPrefixes {
							prefixes = append(prefixes, dec(p.Prefix))
						}
						if !l.IsTruncated {
							break
						}
						token = l.NextContinuationToken
						if page > 100 {
							t.Fatal("no end")
						}
					}
					check("V2", keys, prefixes)

					// V1: NextMarker, or the last key without a delimiter, as s3cmd does.
					keys, prefixes = nil, nil
					marker := ""
					for page := 0; ; page++ {
						l := parseList(t, get(t, s.URL+"/"+publicBucket+"?marker="+url.QueryEscape(marker)+params))
						if len(l.Contents)+len(l.CommonPrefixes) > max {
							t.Fatalf("%s: %d entries", name, len(l.Contents)+len(l.CommonPrefixes))
						}
						for _, c := range l.Contents {
							keys = append(keys, dec(c.Key))
						}
						for _, p := range l.CommonPrefixes {
							prefixes = append(prefixes, dec(p.Prefix))
						}
						if !l.IsTruncated {
							if l.NextMarker != "" {
								t.Errorf("%s: NextMarker %q on the last page", name, l.NextMarker)
							}
							break
						}
						switch {
						case delimiter != "":
							if l.NextMarker == "" {
								t.Fatalf("%s: truncated without NextMarker", name)
							}
							marker = dec(l.NextMarker)
						default:
							if l.NextMarker != "" {
								t.Errorf("%s: NextMarker without a delimiter", name)
							}
							marker = dec(l.Contents[len(l.Contents)-1].Key)
						}
						if page > 100 {
							t.Fatal("no end")
						}
					}
					check("V1", keys, prefixes)
				}
			}
		}
	}
}

func TestListMarkerIsCommonPrefix(t *testing.T) {
	s := newTestServer(t, Options{})
	// A marker that is a common prefix skips everything rolled up in it, even
	// when that takes the endpoint a second backend call to fill the page.
	s.backend.calls = nil
	l := parseList(t, get(t, s.URL+"/"+publicBucket+"?delimiter=/&max-keys=1&marker=data/"))
	if len(l.Contents) != 1 || l.Contents[0].Key != "empty.txt" || len(l.CommonPrefixes) != 0 || !l.IsTruncated || l.NextMarker != "empty.txt" {
		t.Errorf("%+v", l)
	}
	if n := len(s.backend.calls); n != 2 {
		t.Errorf("%d backend calls, want 2: %+v", n, s.backend.calls)
	}
	// The same for V2's start-after.
	l = parseList(t, get(t, s.URL+"/"+publicBucket+"?list-type=2&delimiter=/&max-keys=1&start-after=data/"))
	if len(l.Contents) != 1 || l.Contents[0].Key != "empty.txt" || len(l.CommonPrefixes) != 0 {
		t.Errorf("%+v", l)
	}
	// A marker inside a prefix's keys leaves the rest of them rolled up.
	l = parseList(t, get(t, s.URL+"/"+publicBucket+"?delimiter=/&prefix=data/&marker=data/2024/feb.csv"))
	var ps []string
	for _, p := range l.CommonPrefixes {
		ps = append(ps, p.Prefix)
	}
	if !slices.Equal(ps, []string{"data/2024/", "data/2025/"}) {
		t.Errorf("prefixes %v", ps)
	}
}

func TestMidTransferFailureAborts(t *testing.T) {
	s := newTestServer(t, Options{})
	s.backend.failing[bigKey] = 100 * 1024
	for _, rng := range []string{"", "bytes=1000-"} {
		req, _ := http.NewRequest(http.MethodGet, s.objectURL(publicBucket, bigKey), nil)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			continue // broken before the headers: also a failed transfer
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err == nil {
			t.Errorf("Range %q: status %d, read %d bytes without an error", rng, res.StatusCode, len(body))
		} else if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Logf("Range %q: read error %v after %d bytes", rng, err, len(body))
		}
	}
	// Failing before any byte: the backend's Get succeeds, its reader fails at once.
	s.backend.failing[bigKey] = 0
	req, _ := http.NewRequest(http.MethodGet, s.objectURL(publicBucket, bigKey), nil)
	if res, err := http.DefaultClient.Do(req); err == nil {
		_, err = io.ReadAll(res.Body)
		res.Body.Close()
		if err == nil {
			t.Error("no error for a reader that fails at once")
		}
	}
}

// kindBackend fails every call with one error.
type kindBackend struct{ err error }

func (k kindBackend) Buckets(context.Context, Caller) ([]Bucket, error)      { return nil, k.err }
func (k kindBackend) Region(context.Context, Caller, string) (string, error) { return "", k.err }
func (k kindBackend) List(context.Context, Caller, string, ListQuery) (ListPage, error) {
	return ListPage{}, k.err
}
func (k kindBackend) Head(context.Context, Caller, string, string) (ObjectInfo, error) {
	return ObjectInfo{}, k.err
}
func (k kindBackend) Get(context.Context, Caller, string, string, int64, int64) (io.ReadCloser, error) {
	return nil, k.err
}

func TestBackendErrorMapping(t *testing.T) {
	for _, tc := range []struct {
		err            error
		status         int
		code, listCode string
	}{
		{dataport.Errorf("op", dataport.KindNotFound, "gone"), 404, "NoSuchKey", "NoSuchBucket"},
		{dataport.Errorf("op", dataport.KindForbidden, "no"), 403, "AccessDenied", "AccessDenied"},
		{dataport.Errorf("op", dataport.KindUnauthorized, "who"), 403, "AccessDenied", "AccessDenied"},
		{dataport.Errorf("op", dataport.KindUnavailable, "down"), 503, "ServiceUnavailable", "ServiceUnavailable"},
		{dataport.Internal("op", errors.New("secret detail")), 500, "InternalError", "InternalError"},
		{errors.New("plain"), 500, "InternalError", "InternalError"},
		{dataport.Wrap("outer", ErrNoSuchBucket("b")), 404, "NoSuchBucket", "NoSuchBucket"},
		{ErrInvalidArgument("nope"), 400, "InvalidArgument", "InvalidArgument"},
		{&Error{Code: "Weird"}, 500, "InternalError", "InternalError"}, // no status: a backend bug
	} {
		var logs syncBuffer
		srv := newHandlerServer(t, kindBackend{tc.err}, &logs)
		e := wantError(t, get(t, srv+"/b/k"), tc.status, tc.code)
		if strings.Contains(e.Message, "secret detail") {
			t.Errorf("internal detail leaked: %q", e.Message)
		}
		wantError(t, get(t, srv+"/b?list-type=2"), tc.status, tc.listCode)
		if tc.status >= 500 && !strings.Contains(logs.String(), tc.err.Error()) {
			t.Errorf("%v: not logged: %s", tc.err, logs.String())
		}
	}
}

func TestBucketLocation(t *testing.T) {
	s := newTestServer(t, Options{})
	r := get(t, s.URL+"/"+publicBucket+"?location")
	if r.status != 200 || !bytes.Contains(r.body, []byte(`<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></LocationConstraint>`)) {
		t.Errorf("us-east-1: %d %s", r.status, r.body)
	}
	wantError(t, get(t, s.URL+"/"+privateBucket+"?location"), 403, "AccessDenied")

	eu := newTestServer(t, Options{Region: "eu-central-1"})
	r = get(t, eu.URL+"/"+publicBucket+"?location=")
	if r.status != 200 || !bytes.Contains(r.body, []byte(`>eu-central-1</LocationConstraint>`)) {
		t.Errorf("eu-central-1: %d %s", r.status, r.body)
	}
	// Clients ask for the location signed for us-east-1 before they know better.
	req, _ := http.NewRequest(http.MethodGet, eu.URL+"/"+privateBucket+"?location=", nil)
	signHeader(t, req, testAccessKey, testSecretKey, "us-east-1", time.Now())
	if r := do(t, req); r.status != 200 {
		t.Errorf("location signed for us-east-1: %d %s", r.status, r.body)
	}
	// Anything else signed for the wrong region names the right one.
	req, _ = http.NewRequest(http.MethodGet, eu.URL+"/"+privateBucket+"?list-type=2", nil)
	signHeader(t, req, testAccessKey, testSecretKey, "us-east-1", time.Now())
	if e := wantError(t, do(t, req), 400, "AuthorizationHeaderMalformed"); e.Region != "eu-central-1" {
		t.Errorf("Region %q", e.Region)
	}
	// HEAD has no body: the region comes in x-amz-bucket-region.
	req, _ = http.NewRequest(http.MethodHead, eu.URL+"/"+privateBucket, nil)
	signHeader(t, req, testAccessKey, testSecretKey, "us-east-1", time.Now())
	if r := do(t, req); r.status != 400 || r.header.Get("x-amz-bucket-region") != "eu-central-1" || len(r.body) != 0 {
		t.Errorf("HEAD in the wrong region: %d %v", r.status, r.header)
	}
}

func TestSignedRequestTimes(t *testing.T) {
	now := time.Now()
	skewed := newTestServer(t, Options{Clock: func() time.Time { return now.Add(time.Hour) }})
	req, _ := http.NewRequest(http.MethodGet, skewed.objectURL(privateBucket, privateKey), nil)
	signHeader(t, req, testAccessKey, testSecretKey, "us-east-1", now)
	wantError(t, do(t, req), 403, "RequestTimeTooSkewed")

	// Within 15 minutes either way is fine.
	s := newTestServer(t, Options{Clock: func() time.Time { return now }})
	for _, d := range []time.Duration{-14 * time.Minute, 14 * time.Minute} {
		req, _ := http.NewRequest(http.MethodGet, s.objectURL(privateBucket, privateKey), nil)
		signHeader(t, req, testAccessKey, testSecretKey, "us-east-1", now.Add(d))
		if r := do(t, req); r.status != 200 {
			t.Errorf("skew %v: %d %s", d, r.status, r.body)
		}
	}

	u := s.objectURL(privateBucket, privateKey)
	e := wantError(t, get(t, presign(t, u, testAccessKey, testSecretKey, "us-east-1", now.Add(-2*time.Hour), time.Hour)), 403, "AccessDenied")
	if e.Message != "Request has expired" {
		t.Errorf("expired: %q", e.Message)
	}
	e = wantError(t, get(t, presign(t, u, testAccessKey, testSecretKey, "us-east-1", now.Add(time.Hour), time.Hour)), 403, "AccessDenied")
	if e.Message != "Request is not valid yet" {
		t.Errorf("future: %q", e.Message)
	}
	wantError(t, get(t, presign(t, u, testAccessKey, testSecretKey, "us-east-1", now, 8*24*time.Hour)), 400, "AuthorizationQueryParametersError")
	if r := get(t, presign(t, u, testAccessKey, testSecretKey, "us-east-1", now.Add(-6*24*time.Hour), 7*24*time.Hour)); r.status != 200 {
		t.Errorf("six days into a seven-day URL: %d %s", r.status, r.body)
	}
}
