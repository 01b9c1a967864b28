package awsodr

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dataport/dataport/harvest"
	"github.com/dataport/dataport/internal/testenv"
)

// registryDir is the shared copy of the real registry, relative to this package.
const registryDir = "../../../shared/data/aws-open-data-registry"

func needRegistry(tb testing.TB) string {
	tb.Helper()
	if _, err := os.Stat(filepath.Join(registryDir, "datasets")); err != nil {
		testenv.Missing(tb, "the shared registry checkout is not at %s (%v)", registryDir, err)
	}
	return registryDir
}

// readAll runs a connector and collects what it yields.
func readAll(tb testing.TB, dir string) ([]harvest.Record, []harvest.Problem) {
	tb.Helper()
	var recs []harvest.Record
	var probs []harvest.Problem
	err := New(dir).Read(context.Background(),
		func(r harvest.Record) error { recs = append(recs, r); return nil },
		func(p harvest.Problem) { probs = append(probs, p) })
	if err != nil {
		tb.Fatalf("Read: %v", err)
	}
	return recs, probs
}

func TestRealRegistry(t *testing.T) {
	dir := needRegistry(t)
	start := time.Now()
	recs, probs := readAll(t, dir)
	t.Logf("read in %v: %d records, %d problems", time.Since(start), len(recs), len(probs))

	files, err := filepath.Glob(filepath.Join(dir, "datasets", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs)+len(probs) != len(files) {
		t.Errorf("%d records + %d problems != %d files", len(recs), len(probs), len(files))
	}
	byReason := map[string]int{}
	for _, p := range probs {
		t.Logf("problem %s [%s]: %s", p.Ref, p.Field, p.Reason)
		if p.Reason == "" || p.Ref == "" || p.ID == "" {
			t.Errorf("imprecise problem %+v", p)
		}
		byReason[strings.SplitN(p.Reason, ":", 2)[0]]++
	}
	for r, n := range byReason {
		t.Logf("problems by first field/reason: %q × %d", r, n)
	}

	// Every file accounted for once, in name order.
	seen := map[string]bool{}
	var order []string
	for _, r := range recs {
		order = append(order, r.Ref)
		seen[r.Ref] = true
	}
	for _, p := range probs {
		seen[p.Ref] = true
	}
	for _, f := range files {
		if !seen["datasets/"+filepath.Base(f)] {
			t.Errorf("%s yielded neither record nor problem", f)
		}
	}
	if !sort.StringsAreSorted(order) {
		t.Errorf("records are not in file name order")
	}

	// Shape of every record.
	var dists, s3 int
	buckets := map[string]bool{}
	for _, r := range recs {
		if r.ID == "" || r.Title.En == "" || r.Ref != "datasets/"+r.ID+".yaml" {
			t.Errorf("%s: bad identity %q %q", r.Ref, r.ID, r.Title.En)
		}
		if n := len([]rune(r.Summary.En)); n == 0 || n > maxSummary {
			t.Errorf("%s: summary of %d characters", r.Ref, n)
		}
		if r.Publisher == "" || strings.Contains(r.Publisher, "](") {
			t.Errorf("%s: publisher %q", r.Ref, r.Publisher)
		}
		for _, d := range r.Distributions {
			dists++
			if d.S3 != nil {
				s3++
				buckets[d.S3.Bucket] = true
				if d.S3.Bucket == "" || d.S3.Region == "" || !strings.HasPrefix(d.URL, "s3://") {
					t.Errorf("%s: S3 distribution %+v", r.Ref, d)
				}
			} else if d.Format == "" {
				t.Errorf("%s: distribution without S3 or format: %+v", r.Ref, d)
			}
		}
	}
	t.Logf("connector: %d datasets, %d resources (%d S3), %d distinct S3 buckets and access points", len(recs), dists, s3, len(buckets))

	// Independent count over the files that yielded records, by generic YAML
	// decoding (no schema, no ARN parser): datasets, resources and S3 bucket names
	// (text after "arn:aws:s3:::" up to the first "/"; an access point ARN up to its
	// name, as it stands for its bucket).
	ok := map[string]bool{}
	for _, r := range recs {
		ok[r.Ref] = true
	}
	var gDatasets, gResources int
	gBuckets := map[string]bool{}
	for _, f := range files {
		if !ok["datasets/"+filepath.Base(f)] {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		gDatasets++
		res, _ := doc["Resources"].([]any)
		gResources += len(res)
		for _, r := range res {
			arn, _ := r.(map[string]any)["ARN"].(string)
			if b := bucketOf(arn); b != "" {
				gBuckets[b] = true
			}
		}
	}
	t.Logf("generic decoding: %d datasets, %d resources, %d distinct S3 buckets", gDatasets, gResources, len(gBuckets))
	if gDatasets != len(recs) || gResources != dists || len(gBuckets) != len(buckets) {
		t.Errorf("connector %d/%d/%d != generic decoding %d/%d/%d (datasets/resources/buckets)",
			len(recs), dists, len(buckets), gDatasets, gResources, len(gBuckets))
	}
	for b := range gBuckets {
		if !buckets[b] {
			t.Errorf("bucket %s found by generic decoding, not by the connector", b)
		}
	}

	// A third count, by scanning lines rather than parsing YAML: "ARN:" lines (a
	// key at the start of a line, not prose) of the same files give the same set
	// of S3 buckets.
	lBuckets := map[string]bool{}
	arnLine := regexp.MustCompile(`^\s*(?:-\s+)?ARN:\s*["']?(arn:[^"'\s]+)`)
	for _, f := range files {
		if !ok["datasets/"+filepath.Base(f)] {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 4<<20)
		for sc.Scan() {
			if m := arnLine.FindStringSubmatch(sc.Text()); m != nil {
				if b := bucketOf(m[1]); b != "" {
					lBuckets[b] = true
				}
			}
		}
	}
	t.Logf("line scan: %d distinct S3 buckets", len(lBuckets))
	if len(lBuckets) != len(buckets) {
		t.Errorf("line scan found %d buckets, connector %d", len(lBuckets), len(buckets))
	}
}

// bucketOf is the test's own reading of an S3 ARN: the bucket, or for an access
// point the ARN up to the access point's name; "" for other ARNs.
func bucketOf(arn string) string {
	if rest, ok := strings.CutPrefix(arn, "arn:aws:s3:::"); ok {
		b, _, _ := strings.Cut(rest, "/")
		return b
	}
	if strings.HasPrefix(arn, "arn:aws:s3:") {
		i := strings.Index(arn, ":accesspoint/")
		if i < 0 {
			return ""
		}
		name, _, _ := strings.Cut(arn[i+len(":accesspoint/"):], "/")
		return arn[:i] + ":accesspoint/" + name
	}
	return ""
}

// A record is the same on every read.
func TestRealRegistryDeterministic(t *testing.T) {
	dir := needRegistry(t)
	a, _ := readAll(t, dir)
	b, _ := readAll(t, dir)
	if len(a) != len(b) {
		t.Fatalf("%d then %d records", len(a), len(b))
	}
	for i := range a {
		if !sameRecord(a[i], b[i]) {
			t.Errorf("%s differs between reads", a[i].Ref)
		}
	}
}

// sameRecord compares records by their JSON form, which is what content hashes see.
func sameRecord(a, b harvest.Record) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

func BenchmarkReadRegistry(b *testing.B) {
	dir := needRegistry(b)
	files := 0
	for b.Loop() {
		files = 0
		err := New(dir).Read(context.Background(),
			func(harvest.Record) error { files++; return nil },
			func(harvest.Problem) { files++ })
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(files)*float64(b.N)/b.Elapsed().Seconds(), "files/s")
}
