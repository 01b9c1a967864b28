package delivery_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/dataport/dataport/delivery"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
)

// A process that stops mid-upload leaves files in the staging folder. The next
// start removes those of uploads no longer open and half-written state files, and
// keeps the staged bytes of open uploads, which then resume.
func TestStartCleansStaging(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		f := setup(t, engine)
		ctx := context.Background()
		content := random(1<<20 + 5)
		u, err := f.svc.StartUpload(ctx, f.Supplier, f.Product.ID, f.Product.ListedRevision, delivery.NewUpload{Path: "a.bin", Size: int64(len(content)), SHA256: sum(content)})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.svc.WriteChunk(ctx, f.Supplier, u.ID, 0, bytes.NewReader(content[:1000])); err != nil {
			t.Fatal(err)
		}
		done := f.upload("b.bin", random(10))
		for _, name := range []string{"upl_never_recorded", "upl_never_recorded.state", u.ID + ".state.tmp"} {
			os.WriteFile(filepath.Join(f.staging, name), []byte("left by a crash"), 0o640)
		}
		// A completed upload whose files the crash kept.
		os.WriteFile(filepath.Join(f.staging, "upl_done_"+done.SHA256[:8]), nil, 0o640)

		svc, err := delivery.New(f.DB, f.Reg, f.Blobs, f.Deals, delivery.Options{StagingDir: f.staging, LinkKey: bytes.Repeat([]byte{7}, 32)})
		if err != nil {
			t.Fatal(err)
		}
		staged, err := svc.Staged()
		if want := []string{u.ID, u.ID + ".state"}; err != nil || !slices.Equal(staged, want) {
			t.Fatalf("staging after the start: %v (%v), want %v", staged, err, want)
		}
		if _, file, err := svc.WriteChunk(ctx, f.Supplier, u.ID, 1000, bytes.NewReader(content[1000:])); err != nil || file == nil || file.SHA256 != sum(content) {
			t.Fatalf("resuming after the start: %v, %v", file, err)
		}
	})
}
