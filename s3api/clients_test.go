package s3api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// publicKeys are the keys of the public bucket in the fixture, sorted.
func publicKeys() []string {
	var keys []string
	for name := range fixtureFiles() {
		if k, ok := strings.CutPrefix(name, publicBucket+"/"); ok {
			keys = append(keys, k)
		}
	}
	keys = append(keys, bigKey)
	sort.Strings(keys)
	return keys
}

func newMinio(t *testing.T, s *testServer, creds *credentials.Credentials) *minio.Client {
	t.Helper()
	c, err := minio.New(s.host(), &minio.Options{Creds: creds, BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func minioList(t *testing.T, c *minio.Client, bucket string, opts minio.ListObjectsOptions) []string {
	t.Helper()
	var keys []string
	for o := range c.ListObjects(context.Background(), bucket, opts) {
		if o.Err != nil {
			t.Fatalf("ListObjects %s %+v: %v", bucket, opts, o.Err)
		}
		keys = append(keys, o.Key)
	}
	// minio-go hands out each page's keys before its common prefixes.
	slices.Sort(keys)
	return keys
}

func TestMinioClient(t *testing.T) {
	s := newTestServer(t, Options{})
	ctx := context.Background()
	anon := newMinio(t, s, credentials.NewStatic("", "", "", credentials.SignatureAnonymous))
	signed := newMinio(t, s, credentials.NewStaticV4(testAccessKey, testSecretKey, ""))

	t.Run("ListBuckets", func(t *testing.T) {
		for _, tc := range []struct {
			c    *minio.Client
			want []string
		}{{anon, []string{publicBucket}}, {signed, []string{publicBucket, privateBucket}}} {
			bs, err := tc.c.ListBuckets(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, b := range bs {
				names = append(names, b.Name)
			}
			slices.Sort(tc.want)
			if !slices.Equal(names, tc.want) {
				t.Errorf("buckets %v, want %v", names, tc.want)
			}
		}
	})

	t.Run("ListObjects", func(t *testing.T) {
		for _, v1 := range []bool{false, true} {
			for _, maxKeys := range []int{0, 2, 5} {
				all := minioList(t, anon, publicBucket, minio.ListObjectsOptions{Recursive: true, UseV1: v1, MaxKeys: maxKeys})
				if want := publicKeys(); !slices.Equal(all, want) {
					t.Errorf("v1=%v max=%d recursive:\n%q\nwant\n%q", v1, maxKeys, all, want)
				}
				top := minioList(t, anon, publicBucket, minio.ListObjectsOptions{UseV1: v1, MaxKeys: maxKeys})
				wantTop := []string{"README.txt", "a&b=c~d.txt", bigKey, "data/", "empty.txt", "many/", "percent%41.txt", "plus+sign.txt", "with space/", "数据/"}
				if !slices.Equal(top, wantTop) {
					t.Errorf("v1=%v max=%d top level: %q, want %q", v1, maxKeys, top, wantTop)
				}
				data := minioList(t, anon, publicBucket, minio.ListObjectsOptions{Prefix: "data/", UseV1: v1, MaxKeys: maxKeys})
				if want := []string{"data/2024/", "data/2025/", "data/summary.json"}; !slices.Equal(data, want) {
					t.Errorf("v1=%v max=%d data/: %q, want %q", v1, maxKeys, data, want)
				}
				zh := minioList(t, anon, publicBucket, minio.ListObjectsOptions{Prefix: "数据/", Recursive: true, UseV1: v1, MaxKeys: maxKeys})
				if want := []string{chineseKey}; !slices.Equal(zh, want) {
					t.Errorf("v1=%v max=%d 数据/: %q", v1, maxKeys, zh)
				}
			}
		}
		priv := minioList(t, signed, privateBucket, minio.ListObjectsOptions{Recursive: true})
		if want := []string{"notes/2024/minutes.txt", "notes/readme.md", privateKey}; !slices.Equal(priv, want) {
			t.Errorf("private: %q", priv)
		}
		for o := range anon.ListObjects(ctx, privateBucket, minio.ListObjectsOptions{}) {
			if minio.ToErrorResponse(o.Err).Code != "AccessDenied" {
				t.Errorf("anonymous private listing: %+v", o)
			}
		}
	})

	t.Run("StatObject", func(t *testing.T) {
		for _, key := range []string{chineseKey, spaceKey, "plus+sign.txt", "percent%41.txt", "a&b=c~d.txt"} {
			info, err := anon.StatObject(ctx, publicBucket, key, minio.StatObjectOptions{})
			if err != nil {
				t.Fatalf("%q: %v", key, err)
			}
			want, _ := s.backend.stat(publicBucket, key)
			if info.Size != want.Size || info.ETag != want.ETag || !info.LastModified.Equal(want.LastModified.Truncate(time.Second)) {
				t.Errorf("%q: %+v, want %+v", key, info, want)
			}
		}
		_, err := anon.StatObject(ctx, publicBucket, "missing", minio.StatObjectOptions{})
		if minio.ToErrorResponse(err).Code != "NoSuchKey" {
			t.Errorf("missing: %v", err)
		}
		_, err = anon.StatObject(ctx, privateBucket, privateKey, minio.StatObjectOptions{})
		if minio.ToErrorResponse(err).Code != "AccessDenied" {
			t.Errorf("private: %v", err)
		}
	})

	t.Run("GetObject", func(t *testing.T) {
		big := bigContents()
		for _, r := range [][2]int64{{0, 0}, {0, 99}, {100, 1099}, {int64(len(big)) - 10, int64(len(big)) - 1}} {
			opts := minio.GetObjectOptions{}
			if err := opts.SetRange(r[0], r[1]); err != nil {
				t.Fatal(err)
			}
			obj, err := anon.GetObject(ctx, publicBucket, bigKey, opts)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(obj)
			obj.Close()
			if err != nil {
				t.Fatalf("range %v: %v", r, err)
			}
			if !bytes.Equal(got, big[r[0]:r[1]+1]) {
				t.Errorf("range %v: %d bytes", r, len(got))
			}
		}
		// minio-go's Object seeks and reads at offsets with ranged requests.
		obj, err := anon.GetObject(ctx, publicBucket, bigKey, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4096)
		if _, err := obj.ReadAt(buf, 200000); err != nil || !bytes.Equal(buf, big[200000:204096]) {
			t.Errorf("ReadAt: %v", err)
		}
		if _, err := obj.Seek(-50, io.SeekEnd); err != nil {
			t.Fatal(err)
		}
		if tail, err := io.ReadAll(obj); err != nil || !bytes.Equal(tail, big[len(big)-50:]) {
			t.Errorf("tail: %v %d", err, len(tail))
		}
		obj.Close()

		obj, err = signed.GetObject(ctx, privateBucket, privateKey, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := io.ReadAll(obj); err != nil || string(got) != privateContents {
			t.Errorf("private: %q %v", got, err)
		}
		obj.Close()

		obj, _ = anon.GetObject(ctx, publicBucket, "missing", minio.GetObjectOptions{})
		if _, err := io.ReadAll(obj); minio.ToErrorResponse(err).Code != "NoSuchKey" {
			t.Errorf("missing: %v", err)
		}
		opts := minio.GetObjectOptions{}
		opts.SetRange(int64(len(big))+1, int64(len(big))+10)
		obj, _ = anon.GetObject(ctx, publicBucket, bigKey, opts)
		if _, err := io.ReadAll(obj); minio.ToErrorResponse(err).Code != "InvalidRange" {
			t.Errorf("beyond the end: %v", err)
		}
	})

	t.Run("PresignedGetObject", func(t *testing.T) {
		for _, key := range []string{privateKey, "notes/readme.md"} {
			params := url.Values{"response-content-disposition": {`attachment; filename="q1.csv"`}}
			u, err := signed.PresignedGetObject(ctx, privateBucket, key, 5*time.Minute, params)
			if err != nil {
				t.Fatal(err)
			}
			r := get(t, u.String())
			if r.status != 200 || !bytes.Equal(r.body, s.backend.fileBytes(t, privateBucket, key)) ||
				r.header.Get("Content-Disposition") != `attachment; filename="q1.csv"` {
				t.Errorf("%q: %d %v %q", key, r.status, r.header, r.body)
			}
			// Any change to the URL breaks it.
			wantError(t, get(t, strings.Replace(u.String(), "X-Amz-Expires=300", "X-Amz-Expires=301", 1)), 403, "SignatureDoesNotMatch")
		}
	})

	t.Run("wrong secret", func(t *testing.T) {
		bad := newMinio(t, s, credentials.NewStaticV4(testAccessKey, "not-the-secret", ""))
		_, err := bad.ListBuckets(ctx)
		if minio.ToErrorResponse(err).Code != "SignatureDoesNotMatch" {
			t.Errorf("%v", err)
		}
		unknown := newMinio(t, s, credentials.NewStaticV4("AKIDUNKNOWN", "x", ""))
		_, err = unknown.StatObject(ctx, publicBucket, "README.txt", minio.StatObjectOptions{})
		if code := minio.ToErrorResponse(err).StatusCode; code != 403 {
			t.Errorf("unknown key: %v", err)
		}
	})

	t.Run("writes refused", func(t *testing.T) {
		_, err := signed.PutObject(ctx, privateBucket, "new.txt", strings.NewReader("x"), 1, minio.PutObjectOptions{})
		if resp := minio.ToErrorResponse(err); resp.Code != "MethodNotAllowed" {
			t.Errorf("PutObject: %v", err)
		}
		if err := signed.RemoveObject(ctx, privateBucket, privateKey, minio.RemoveObjectOptions{}); minio.ToErrorResponse(err).Code != "MethodNotAllowed" {
			t.Errorf("RemoveObject: %v", err)
		}
	})
}

func newS3(s *testServer, creds aws.CredentialsProvider) *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(s.URL),
		Region:       "us-east-1",
		UsePathStyle: true,
		Credentials:  creds,
	})
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestAWSSDKClient(t *testing.T) {
	s := newTestServer(t, Options{})
	ctx := context.Background()
	anon := newS3(s, aws.AnonymousCredentials{})
	signed := newS3(s, awscreds.NewStaticCredentialsProvider(testAccessKey, testSecretKey, ""))

	t.Run("ListBuckets", func(t *testing.T) {
		for _, tc := range []struct {
			c    *s3.Client
			want []string
		}{{anon, []string{publicBucket}}, {signed, []string{privateBucket, publicBucket}}} {
			out, err := tc.c.ListBuckets(ctx, &s3.ListBucketsInput{})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, b := range out.Buckets {
				names = append(names, aws.ToString(b.Name))
			}
			slices.Sort(tc.want)
			if !slices.Equal(names, tc.want) || out.Owner == nil {
				t.Errorf("buckets %v, want %v", names, tc.want)
			}
		}
		// The paginated form.
		p := s3.NewListBucketsPaginator(signed, &s3.ListBucketsInput{MaxBuckets: aws.Int32(1)})
		var names []string
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range out.Buckets {
				names = append(names, aws.ToString(b.Name))
			}
		}
		if want := []string{publicBucket, privateBucket}; !slices.Equal(names, want) {
			t.Errorf("paginated: %v", names)
		}
	})

	t.Run("ListObjectsV2 paginator", func(t *testing.T) {
		for _, delimiter := range []string{"", "/"} {
			for _, maxKeys := range []int32{1, 2, 3, 1000} {
				p := s3.NewListObjectsV2Paginator(anon, &s3.ListObjectsV2Input{
					Bucket: aws.String(publicBucket), MaxKeys: aws.Int32(maxKeys), Delimiter: aws.String(delimiter),
				})
				var keys, prefixes []string
				pages := 0
				for p.HasMorePages() {
					out, err := p.NextPage(ctx)
					if err != nil {
						t.Fatal(err)
					}
					pages++
					if n := len(out.Contents) + len(out.CommonPrefixes); int32(n) != aws.ToInt32(out.KeyCount) || int32(n) > maxKeys {
						t.Errorf("KeyCount %d for %d entries", aws.ToInt32(out.KeyCount), n)
					}
					for _, o := range out.Contents {
						keys = append(keys, aws.ToString(o.Key))
						if o.ETag == nil || !strings.HasPrefix(*o.ETag, `"`) || o.Size == nil || o.LastModified == nil {
							t.Errorf("entry %+v", o)
						}
					}
					for _, cp := range out.CommonPrefixes {
						prefixes = append(prefixes, aws.ToString(cp.Prefix))
					}
				}
				wantKeys, wantPrefixes := publicKeys(), []string(nil)
				if delimiter == "/" {
					wantKeys = []string{"README.txt", "a&b=c~d.txt", bigKey, "empty.txt", "percent%41.txt", "plus+sign.txt"}
					wantPrefixes = []string{"data/", "many/", "with space/", "数据/"}
				}
				if !slices.Equal(keys, wantKeys) || !slices.Equal(prefixes, wantPrefixes) {
					t.Errorf("delimiter %q max %d: keys %q prefixes %q", delimiter, maxKeys, keys, prefixes)
				}
				if wantPages := (len(wantKeys) + len(wantPrefixes) + int(maxKeys) - 1) / int(maxKeys); pages != wantPages {
					t.Errorf("delimiter %q max %d: %d pages, want %d", delimiter, maxKeys, pages, wantPages)
				}
			}
		}
		out, err := anon.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(publicBucket), Prefix: aws.String("many/"),
			StartAfter: aws.String("many/0020.txt"), EncodingType: types.EncodingTypeUrl})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Contents) != 2 || aws.ToString(out.Contents[0].Key) != "many/0021.txt" || aws.ToBool(out.IsTruncated) {
			t.Errorf("start-after: %+v", out.Contents)
		}
	})

	t.Run("HeadObject and GetObject", func(t *testing.T) {
		want, _ := s.backend.stat(publicBucket, chineseKey)
		h, err := anon.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(publicBucket), Key: aws.String(chineseKey)})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToInt64(h.ContentLength) != want.Size || aws.ToString(h.ETag) != `"`+want.ETag+`"` ||
			aws.ToString(h.ContentType) != "text/csv; charset=utf-8" || !h.LastModified.Equal(want.LastModified) {
			t.Errorf("HeadObject: %+v", h)
		}
		big := bigContents()
		g, err := anon.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(publicBucket), Key: aws.String(bigKey), Range: aws.String("bytes=1000-1999")})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(g.Body)
		g.Body.Close()
		if err != nil || !bytes.Equal(got, big[1000:2000]) || aws.ToString(g.ContentRange) != "bytes 1000-1999/307217" {
			t.Errorf("GetObject range: %v %d %q", err, len(got), aws.ToString(g.ContentRange))
		}
		g, err = signed.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(privateBucket), Key: aws.String(privateKey)})
		if err != nil {
			t.Fatal(err)
		}
		got, _ = io.ReadAll(g.Body)
		g.Body.Close()
		if string(got) != privateContents {
			t.Errorf("private: %q", got)
		}
		if _, err := signed.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(privateBucket)}); err != nil {
			t.Errorf("HeadBucket: %v", err)
		}
		loc, err := anon.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String(publicBucket)})
		if err != nil || loc.LocationConstraint != "" {
			t.Errorf("GetBucketLocation: %v %q", err, loc.LocationConstraint)
		}
	})

	t.Run("typed errors", func(t *testing.T) {
		_, err := anon.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(publicBucket), Key: aws.String("missing.csv")})
		var nsk *types.NoSuchKey
		if !errors.As(err, &nsk) {
			t.Errorf("GetObject missing: %v", err)
		}
		_, err = anon.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(publicBucket), Key: aws.String("missing.csv")})
		var nf *types.NotFound
		if !errors.As(err, &nf) {
			t.Errorf("HeadObject missing: %v", err)
		}
		_, err = anon.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("no-such-bucket")})
		var nsb *types.NoSuchBucket
		if !errors.As(err, &nsb) {
			t.Errorf("ListObjectsV2 missing bucket: %v", err)
		}
		_, err = anon.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(privateBucket), Key: aws.String(privateKey)})
		if apiCode(err) != "AccessDenied" {
			t.Errorf("anonymous private: %v", err)
		}
		_, err = anon.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(publicBucket), Key: aws.String(bigKey), Range: aws.String("bytes=999999-")})
		if apiCode(err) != "InvalidRange" {
			t.Errorf("InvalidRange: %v", err)
		}
		wrong := newS3(s, awscreds.NewStaticCredentialsProvider(testAccessKey, "wrong-secret", ""))
		_, err = wrong.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(privateBucket)})
		if apiCode(err) != "SignatureDoesNotMatch" {
			t.Errorf("wrong secret: %v", err)
		}
		_, err = signed.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(publicBucket), ContinuationToken: aws.String("bm9uc2Vuc2U")})
		if apiCode(err) != "InvalidArgument" {
			t.Errorf("bad token: %v", err)
		}
		_, err = signed.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(privateBucket), Key: aws.String("x"), Body: strings.NewReader("x")})
		if apiCode(err) != "MethodNotAllowed" {
			t.Errorf("PutObject: %v", err)
		}
	})

	t.Run("presigned", func(t *testing.T) {
		ps := s3.NewPresignClient(signed)
		req, err := ps.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(privateBucket), Key: aws.String(privateKey)},
			s3.WithPresignExpires(10*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		hreq, _ := http.NewRequest(req.Method, req.URL, nil)
		for k, v := range req.SignedHeader {
			if k != "Host" {
				hreq.Header[k] = v
			}
		}
		if r := do(t, hreq); r.status != 200 || string(r.body) != privateContents {
			t.Errorf("presigned: %d %s", r.status, r.body)
		}
	})
}

// An endpoint in another region: minio-go, told no region, finds it with
// GetBucketLocation (signed for us-east-1) and signs the rest for it; an SDK
// configured for the wrong region is told the right one.
func TestClientsOtherRegion(t *testing.T) {
	s := newTestServer(t, Options{Region: "eu-central-1"})
	ctx := context.Background()
	mc := newMinio(t, s, credentials.NewStaticV4(testAccessKey, testSecretKey, ""))
	if bs, err := mc.ListBuckets(ctx); err != nil || len(bs) != 2 {
		t.Fatalf("ListBuckets: %v %v", bs, err)
	}
	if keys := minioList(t, mc, privateBucket, minio.ListObjectsOptions{Recursive: true}); !slices.Equal(keys, privateKeys()) {
		t.Errorf("ListObjects: %q", keys)
	}
	obj, err := mc.GetObject(ctx, privateBucket, privateKey, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(obj); err != nil || string(b) != privateContents {
		t.Errorf("GetObject: %q %v", b, err)
	}
	obj.Close()

	wrong := newS3(s, awscreds.NewStaticCredentialsProvider(testAccessKey, testSecretKey, ""))
	_, err = wrong.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(privateBucket)})
	if apiCode(err) != "AuthorizationHeaderMalformed" || !strings.Contains(err.Error(), "eu-central-1") {
		t.Errorf("wrong region: %v", err)
	}
	right := s3.New(s3.Options{BaseEndpoint: aws.String(s.URL), Region: "eu-central-1", UsePathStyle: true,
		Credentials: awscreds.NewStaticCredentialsProvider(testAccessKey, testSecretKey, "")})
	loc, err := right.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String(privateBucket)})
	if err != nil || loc.LocationConstraint != "eu-central-1" {
		t.Errorf("GetBucketLocation: %v %q", err, loc.LocationConstraint)
	}
	if _, err := right.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(privateBucket), Key: aws.String(privateKey)}); err != nil {
		t.Errorf("HeadObject: %v", err)
	}
}
