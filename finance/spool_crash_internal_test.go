package finance

import (
	"fmt"
	"os"
	"testing"
)

// A batch spooled past memory leaves nothing in the spool folder even while it is
// read: its file is unlinked at once, so a process killed mid-batch leaves none.
func TestSpoolLeavesNoFile(t *testing.T) {
	dir := t.TempDir()
	sp := newSpool(dir)
	defer sp.close()
	const n = 200_000 // over the spool's memory
	for i := range n {
		o := order{line: int64(i + 2), id: fmt.Sprintf("order-%040d", i), cur: currencyIndex["CNY"], amount: int64(i), status: 1}
		if err := sp.put(&o); err != nil {
			t.Fatal(err)
		}
	}
	if sp.file == nil {
		t.Fatal("the spool never went to a file")
	}
	if err := sp.rewind(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("the spool folder holds %v while a batch is spooled", left)
	}
	var o order
	for i := range n {
		ok, err := sp.next(&o)
		if err != nil || !ok || o.id != fmt.Sprintf("order-%040d", i) {
			t.Fatalf("order %d read back as %q: %v %v", i, o.id, ok, err)
		}
	}
}
