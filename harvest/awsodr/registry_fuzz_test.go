package awsodr

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A dataset file of any bytes is validated against the registry's own schema and
// lists and becomes a record or a list of problems, never a panic. Each problem says
// what is wrong; a record has the file's id, a title, only well-formed S3 resources,
// and encodes as JSON (its content hash is the hash of that encoding).
func FuzzParseFile(f *testing.F) {
	dir := needRegistry(f)
	schema, err := os.ReadFile(filepath.Join(dir, "schema.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	root, err := compileSchema(schema, extFuncs)
	if err != nil {
		f.Fatal(err)
	}
	ext, err := loadExtChecks(dir)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(good))
	for _, name := range []string{"1000-genomes.yaml", "allen-brain-observatory.yaml", "amazon-bin-imagery.yaml"} {
		if b, err := os.ReadFile(filepath.Join(dir, "datasets", name)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("Name: x\n---\nName: y\n"))
	f.Add([]byte("a: &a [*a, *a, *a]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n"))
	f.Add([]byte("Name: \"  \"\nResources:\n  - ARN: arn:aws:s3:::UPPER\n    Region: us-east-1\n    Type: S3 Bucket\n"))
	dates := entryDates{added: "2020-01-02", modified: "2024-05-06"}
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, errs := parseFile("fuzzed", "datasets/fuzzed.yaml", data, root, ext, dates)
		if len(errs) > 0 {
			for _, e := range errs {
				if e.msg == "" || e.line < 0 {
					t.Fatalf("a problem that says nothing: %+v", e)
				}
			}
			if p := problemOf("datasets/fuzzed.yaml", "fuzzed", errs); p.Reason == "" {
				t.Fatalf("%+v reported as %+v", errs, p)
			}
			return
		}
		if rec.ID != "fuzzed" || strings.TrimSpace(rec.Title.En+rec.Title.Zh) == "" {
			t.Fatalf("a record without its id or a title: %+v", rec)
		}
		for _, d := range rec.Distributions {
			if d.Size < 0 {
				t.Fatalf("a distribution of %d bytes", d.Size)
			}
			if d.S3 == nil {
				continue
			}
			if d.S3.Bucket == "" {
				t.Fatalf("an S3 resource without a bucket: %+v", d.S3)
			}
			if _, err := ParseARN(d.S3.ARN); err != nil {
				t.Fatalf("an S3 resource with a bad ARN: %v", err)
			}
		}
		if _, err := json.Marshal(rec); err != nil {
			t.Fatalf("the record does not encode: %v", err)
		}
	})
}

// An ARN reads only when well formed, and writes back as it was; an S3 ARN names a
// bucket.
func FuzzParseARN(f *testing.F) {
	for _, s := range []string{"arn:aws:s3:::1000genomes", "arn:aws:s3:::noaa-goes16/ABI-L1b-RadC/", "arn:aws:sns:us-east-1:123901341784:NewGOES16Object",
		"arn:aws:s3:us-west-2:123456789012:accesspoint/my-ap/data/", "arn:aws-cn:s3:::xn--bucket", "arn:aws:s3:::a..b", "arn:aws:s3:::bucket-s3alias",
		"arn:aws:sns:us-east-1:aws:stpubdata/jwst", "arn:aws:iam::aws:policy/x", "arn:aws:s3:::192.168.5.4", "arn:aws:s3:::b\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseARN(s)
		if err != nil {
			return
		}
		if a.String() != s {
			t.Fatalf("%q reads as %+v, which writes as %q", s, a, a.String())
		}
		if a.Service != "s3" {
			return
		}
		bucket, _, err := a.S3Location()
		if err != nil || bucket == "" {
			t.Fatalf("%q reads as an S3 ARN without a location: %q, %v", s, bucket, err)
		}
	})
}
