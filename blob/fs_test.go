package blob_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dataport/dataport/blob"
	"github.com/dataport/dataport/blob/blobtest"
)

func TestFS(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		s, err := blob.OpenFS(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, func(s blob.Store) []string {
		l, err := s.(*blob.FS).Uploads()
		if err != nil {
			return []string{err.Error()}
		}
		return l
	})
}

// An upload abandoned by a crash is swept when the store is next opened, once it is
// too old to belong to a Put still running elsewhere; a fresh one is left alone.
func TestFSSweepsAbandonedUploads(t *testing.T) {
	dir := t.TempDir()
	s, err := blob.OpenFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(dir, "tmp", "put-crashed")
	fresh := filepath.Join(dir, "tmp", "put-running")
	for _, f := range []string{old, fresh} {
		if err := os.WriteFile(f, []byte("half"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-48 * time.Hour)
	os.Chtimes(old, past, past)
	if l, _ := s.Uploads(); len(l) != 2 {
		t.Fatalf("uploads %v", l)
	}
	if s, err = blob.OpenFS(dir); err != nil {
		t.Fatal(err)
	}
	l, _ := s.Uploads()
	if len(l) != 1 || l[0] != "put-running" {
		t.Fatalf("after reopening: %v, want only put-running", l)
	}
}
