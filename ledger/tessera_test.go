package ledger_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dataport/dataport/ledger"
)

// The fixture in testdata/tessera is a log written by another implementation,
// Tessera's POSIX storage (see testdata/tessera/README.md).
const tesseraLog = "testdata/tessera/log"

func tesseraKey(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("testdata/tessera/vkey")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// tesseraCopy copies the fixture into a temporary directory that may be altered.
func tesseraCopy(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "log")
	if err := os.CopyFS(dir, os.DirFS(tesseraLog)); err != nil {
		t.Fatal(err)
	}
	return dir
}

// alterFile applies change to the (decompressed) contents of dir/path and writes the
// result back, compressed again if it was gzip-compressed.
func alterFile(t *testing.T, dir, path string, change func([]byte)) {
	t.Helper()
	name := filepath.Join(dir, filepath.FromSlash(path))
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	gz := len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b
	if gz {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if b, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	change(b)
	if gz {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(b)
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		b = buf.Bytes()
	}
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func gzipFile(t *testing.T, name string) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyLogWrittenByTessera(t *testing.T) {
	ctx := context.Background()
	vkey := tesseraKey(t)

	rep, err := ledger.VerifyLog(ctx, ledger.DirSource(tesseraLog), ledger.VerifyOptions{Key: vkey, Entries: true})
	if err != nil {
		t.Fatalf("the log Tessera wrote does not verify: %v", err)
	}
	// 1000 leaves: level 0 has three full tiles and one of 232, level 1 one of 3.
	if rep.Entries != 1000 || rep.Checkpoint.Size != 1000 || rep.Tiles != 5 ||
		rep.Checkpoint.Origin != "tessera.example/interop" {
		t.Fatalf("report: entries %d, tiles %d, checkpoint %s size %d",
			rep.Entries, rep.Tiles, rep.Checkpoint.Origin, rep.Checkpoint.Size)
	}

	t.Run("altered entry", func(t *testing.T) {
		for _, c := range []struct {
			bundle string
			pos    int
			gzip   bool // compress the bundle first, as some writers store it
			want   string
		}{
			{"tile/entries/001", 44, false, "entry 300 (tile/entries/001, position 44) hashes to"},
			{"tile/entries/003.p/232", 231, false, "entry 999 (tile/entries/003.p/232, position 231) hashes to"},
			{"tile/entries/002", 0, true, "entry 512 (tile/entries/002, position 0) hashes to"},
		} {
			dir := tesseraCopy(t)
			if c.gzip {
				gzipFile(t, filepath.Join(dir, filepath.FromSlash(c.bundle)))
				if _, err := ledger.VerifyLog(ctx, ledger.DirSource(dir), ledger.VerifyOptions{Key: vkey, Entries: true}); err != nil {
					t.Fatalf("%s gzip-compressed: %v", c.bundle, err)
				}
			}
			alterFile(t, dir, c.bundle, func(b []byte) {
				// Skip to the entry and flip a byte in its middle, not its length.
				off := 0
				for range c.pos {
					off += 2 + int(binary.BigEndian.Uint16(b[off:]))
				}
				size := int(binary.BigEndian.Uint16(b[off:]))
				b[off+2+size/2] ^= 0x01
			})
			_, err := ledger.VerifyLog(ctx, ledger.DirSource(dir), ledger.VerifyOptions{Key: vkey, Entries: true})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s position %d altered: got %v, want %q", c.bundle, c.pos, err, c.want)
			}
			t.Log(err)
			// The tree itself is intact.
			if _, err := ledger.VerifyLog(ctx, ledger.DirSource(dir), ledger.VerifyOptions{Key: vkey}); err != nil {
				t.Errorf("%s altered, tree check: %v", c.bundle, err)
			}
		}
	})

	t.Run("altered tile", func(t *testing.T) {
		for _, c := range []struct {
			tile string
			want string
		}{
			// A full tile is checked against its parent, the right edge against the root.
			{"tile/0/001", "tile/0/001 hashes to"},
			{"tile/0/003.p/232", "the tiles give root"},
		} {
			dir := tesseraCopy(t)
			alterFile(t, dir, c.tile, func(b []byte) { b[7*32+5] ^= 0x80 })
			_, err := ledger.VerifyLog(ctx, ledger.DirSource(dir), ledger.VerifyOptions{Key: vkey})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s altered: got %v, want %q", c.tile, err, c.want)
			}
			t.Log(err)
		}
	})

	t.Run("wrong key", func(t *testing.T) {
		for _, origin := range []string{"tessera.example/interop", "tessera.example/other"} {
			_, other, err := ledger.GenerateKey(origin)
			if err != nil {
				t.Fatal(err)
			}
			_, err = ledger.VerifyLog(ctx, ledger.DirSource(tesseraLog), ledger.VerifyOptions{Key: other, Entries: true})
			if err == nil || !strings.Contains(err.Error(), "not signed by "+origin) {
				t.Errorf("key %s: got %v", other, err)
			}
			t.Log(err)
		}
	})
}
