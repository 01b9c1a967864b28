package ledger_test

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/dataport/dataport/internal/testenv"
	"github.com/dataport/dataport/ledger"
)

// vectors is the shared folder of RFC 6962 proof vectors written by another
// implementation (transparency-dev/merkle), valid and deliberately broken.
func vectors(t *testing.T) string {
	dir := filepath.Join("..", "..", "shared", "data", "merkle-test-vectors")
	if _, err := os.Stat(dir); err != nil {
		testenv.Missing(t, "merkle test vectors not found at %s: put the shared folder beside the project", dir)
	}
	return dir
}

type b64 []byte

func (b *b64) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	d, err := base64.StdEncoding.DecodeString(s)
	*b = d
	return err
}

func hashes(in []b64) [][]byte {
	out := make([][]byte, len(in))
	for i, h := range in {
		out[i] = h
	}
	return out
}

func walk(t *testing.T, dir string, fn func(t *testing.T, data []byte)) int {
	n := 0
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".json" {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n++
		rel, _ := filepath.Rel(dir, path)
		t.Run(rel, func(t *testing.T) { fn(t, data) })
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestInclusionVectors(t *testing.T) {
	n := walk(t, filepath.Join(vectors(t), "inclusion"), func(t *testing.T, data []byte) {
		var v struct {
			LeafIdx, TreeSize uint64
			Root, LeafHash    b64
			Proof             []b64
			Desc              string
			WantErr           bool
		}
		if err := json.Unmarshal(data, &v); err != nil {
			t.Fatal(err)
		}
		// Indexes past 2^63 wrap to negative numbers, which CheckInclusion refuses.
		err := ledger.CheckInclusion(hashes(v.Proof), int64(v.LeafIdx), int64(v.TreeSize), v.LeafHash, v.Root)
		if (err != nil) != v.WantErr {
			t.Fatalf("%s: err = %v, want error %v", v.Desc, err, v.WantErr)
		}
	})
	if n < 50 {
		t.Fatalf("only %d inclusion vectors", n)
	}
}

func TestConsistencyVectors(t *testing.T) {
	n := walk(t, filepath.Join(vectors(t), "consistency"), func(t *testing.T, data []byte) {
		var v struct {
			Size1, Size2 int64
			Root1, Root2 b64
			Proof        []b64
			Desc         string
			WantErr      bool
		}
		if err := json.Unmarshal(data, &v); err != nil {
			t.Fatal(err)
		}
		err := ledger.CheckConsistency(hashes(v.Proof), v.Size1, v.Size2, v.Root1, v.Root2)
		if (err != nil) != v.WantErr {
			t.Fatalf("%s: err = %v, want error %v", v.Desc, err, v.WantErr)
		}
	})
	if n < 50 {
		t.Fatalf("only %d consistency vectors", n)
	}
}
