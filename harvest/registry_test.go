package harvest_test

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/harvest"
	"github.com/dataport/dataport/harvest/awsodr"
	"github.com/dataport/dataport/internal/testenv"
	"github.com/dataport/dataport/mirror"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/trade/tradetest"
)

const registryDir = "../../shared/data/aws-open-data-registry"

// copyRegistry copies the shared registry checkout, so a test may change it.
func copyRegistry(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(registryDir); err != nil {
		testenv.Missing(t, "the shared registry checkout is not beside the project (%s): %v", registryDir, err)
	}
	dst := t.TempDir()
	err := filepath.WalkDir(registryDir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(registryDir, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// scan counts, without parsing YAML, the S3 buckets named by the resource ARNs
// of the registry's files: the independent count the report is checked against.
func scan(t testing.TB, dir string, skip map[string]bool) (resources int, buckets map[string]bool) {
	buckets = map[string]bool{}
	files, _ := filepath.Glob(filepath.Join(dir, "datasets", "*.yaml"))
	for _, f := range files {
		if skip[filepath.Base(f)] {
			continue
		}
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 4<<20)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			line = strings.TrimPrefix(line, "- ")
			if strings.HasPrefix(line, "ARN:") {
				arn := strings.Trim(strings.TrimSpace(strings.TrimPrefix(line, "ARN:")), `"'`)
				parts := strings.SplitN(arn, ":", 6)
				if len(parts) == 6 && parts[2] == "s3" {
					if parts[3] == "" && parts[4] == "" { // a bucket: arn:aws:s3:::bucket/prefix
						b, _, _ := strings.Cut(parts[5], "/")
						buckets[b] = true
					} else { // an access point stands for a bucket of its own
						buckets[arn] = true
					}
				}
			}
		}
		fh.Close()
	}
	return resources, buckets
}

type registryWorld struct {
	*tradetest.World
	svc    *harvest.Service
	mirror *mirror.Service
	src    harvest.Source
	dir    string
}

func newRegistryWorld(t testing.TB, engine store.Engine) *registryWorld {
	ctx := context.Background()
	w := tradetest.New(t, engine)
	dir := copyRegistry(t)
	report, err := w.Cat.UploadAttachment(ctx, w.Supplier, catalog.NewAttachment{Name: "registry-assessment.pdf", MediaType: "application/pdf"},
		strings.NewReader("%PDF assessment of the AWS Open Data Registry"))
	if err != nil {
		t.Fatal(err)
	}
	cache, err := mirror.OpenCache(t.TempDir(), mirror.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cache.Close() })
	m, err := mirror.New(w.DB, cache, make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	svc := harvest.New(w.DB, w.Reg, w.Cat, m, harvest.Connectors{
		harvest.KindAWSOpenData: func(s harvest.Source) (harvest.Connector, error) { return awsodr.New(s.Location), nil }})
	src, err := svc.AddSource(ctx, w.Operator, harvest.NewSource{Name: "AWS Open Data Registry", Kind: harvest.KindAWSOpenData, Location: dir,
		SupplierID: w.Supplier.ParticipantID, Settings: harvest.Settings{Scenarios: []string{"research", "analytics"}, ComplianceReport: report.SHA256,
			AutoList: harvest.AutoList{Enabled: true, OpenLicence: true}}})
	if err != nil {
		t.Fatal(err)
	}
	return &registryWorld{World: w, svc: svc, mirror: m, src: src, dir: dir}
}

// The shared registry harvests whole: one product per dataset (listed, or queued
// for review), each file that fails reported with its name and reason, the counts
// of resources and S3 buckets equal to an independent count, the S3 buckets
// mirror upstreams. A second run with one file changed, one removed and one broken
// makes exactly one new revision and one delisting; a run with no change files
// only its run record.
func TestHarvestRegistry(t *testing.T) {
	ctx := context.Background()
	w := newRegistryWorld(t, store.SQLite)
	files, _ := filepath.Glob(filepath.Join(w.dir, "datasets", "*.yaml"))

	t0 := time.Now()
	rep, err := w.svc.Run(ctx, w.Operator, w.src.ID, nil)
	t.Logf("first harvest of %d files: %v", len(files), time.Since(t0))
	if err != nil || rep.Status != "succeeded" {
		t.Fatalf("run: %+v, %v", rep.Error, err)
	}
	failed := map[string]bool{}
	for _, p := range rep.Problems {
		if p.Ref == "" || p.Reason == "" {
			t.Fatalf("a problem without its file or reason: %+v", p)
		}
		failed[filepath.Base(p.Ref)] = true
		t.Logf("reported: %s: %s", p.Ref, p.Reason)
	}
	if rep.Records+rep.Failed != len(files) || rep.Added != rep.Records || rep.Listed+rep.Queued+len(draftNotices(rep)) != rep.Added {
		t.Fatalf("%d files: %d records, %d failed, %d added, %d listed, %d queued, %d kept as drafts",
			len(files), rep.Records, rep.Failed, rep.Added, rep.Listed, rep.Queued, len(draftNotices(rep)))
	}
	_, buckets := scan(t, w.dir, failed)
	if rep.S3Buckets != len(buckets) {
		t.Fatalf("report: %d S3 buckets; the ARN lines name %d", rep.S3Buckets, len(buckets))
	}
	ups, err := w.mirror.Upstreams(ctx, w.Operator)
	if err != nil || len(ups) != rep.Upstreams || rep.Upstreams == 0 {
		t.Fatalf("mirror upstreams: %d registered, report says %d (%v)", len(ups), rep.Upstreams, err)
	}
	t.Logf("%d records: %d listed, %d queued; %d resources, %d S3 buckets, %d mirrored", rep.Records, rep.Listed, rep.Queued, rep.Resources, rep.S3Buckets, rep.Upstreams)

	// No change: only the run is filed.
	before := filings(t, w.DB)
	t0 = time.Now()
	rep, err = w.svc.Run(ctx, w.Operator, w.src.ID, nil)
	t.Logf("re-sync with no change: %v", time.Since(t0))
	if err != nil || rep.Unchanged != rep.Records || rep.Added+rep.Changed+rep.Removed != 0 {
		t.Fatalf("no-change run: %+v, %v", rep, err)
	}
	if after := filings(t, w.DB); after != before+1 {
		t.Fatalf("a no-change run filed %d entries, want 1", after-before)
	}

	// One changed, one removed, one broken.
	change := filepath.Join(w.dir, "datasets", "noaa-ghcn.yaml")
	b, err := os.ReadFile(change)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(change, []byte(strings.Replace(string(b), "Description: ", "Description: Revised. ", 1)), 0o644)
	if err := os.Remove(filepath.Join(w.dir, "datasets", "ecmwf-era5.yaml")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(w.dir, "datasets", "zz-broken.yaml"), []byte("Name: [unclosed\nDescription: x\n"), 0o644)
	rep, err = w.svc.Run(ctx, w.Operator, w.src.ID, nil)
	if err != nil || rep.Changed != 1 || rep.Removed != 1 || rep.Added != 0 {
		t.Fatalf("change run: changed %d, removed %d, added %d (%v)", rep.Changed, rep.Removed, rep.Added, err)
	}
	var broken bool
	for _, p := range rep.Problems {
		broken = broken || (strings.Contains(p.Ref, "zz-broken.yaml") && p.Reason != "")
	}
	if !broken {
		t.Fatalf("the broken file is not reported: %+v", rep.Problems)
	}
}

func draftNotices(rep harvest.Report) []harvest.Problem {
	var out []harvest.Problem
	for _, n := range rep.Notices {
		if strings.HasPrefix(n.Reason, "kept as a draft") {
			out = append(out, n)
		}
	}
	return out
}

// BenchmarkHarvestRegistry: the full harvest of the shared registry (893 files)
// into an empty exchange, and a re-sync with no change, on SQLite; the heap in
// use after the run is reported to show memory stays flat.
//
//	go test -run XXX -bench HarvestRegistry -benchtime 3x ./harvest/
func BenchmarkHarvestRegistry(b *testing.B) {
	ctx := context.Background()
	heap := func(b *testing.B) {
		var m runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m)
		b.ReportMetric(float64(m.HeapInuse)/(1<<20), "heap-MB")
	}
	b.Run("full", func(b *testing.B) {
		for range b.N {
			b.StopTimer()
			w := newRegistryWorld(b, store.SQLite)
			b.StartTimer()
			if rep, err := w.svc.Run(ctx, w.Operator, w.src.ID, nil); err != nil || rep.Added == 0 {
				b.Fatalf("%+v %v", rep.Error, err)
			}
		}
		heap(b)
	})
	b.Run("resync", func(b *testing.B) {
		w := newRegistryWorld(b, store.SQLite)
		if _, err := w.svc.Run(ctx, w.Operator, w.src.ID, nil); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for range b.N {
			if rep, err := w.svc.Run(ctx, w.Operator, w.src.ID, nil); err != nil || rep.Unchanged != rep.Records {
				b.Fatalf("%+v %v", rep, err)
			}
		}
		heap(b)
	})
}
