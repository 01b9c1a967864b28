package chart_test

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.svg and *.table.html from the current output")

// TestGolden renders each fixture and compares it with its file in testdata:
// a change to the output shows in review as a change to those files, and
// rendering twice gives the same bytes.
func TestGolden(t *testing.T) {
	for _, f := range fixtures() {
		t.Run(f.name, func(t *testing.T) {
			svg := render(t, f.chart.WriteSVG)
			table := render(t, f.chart.WriteTable)
			if again := render(t, f.chart.WriteSVG); !bytes.Equal(svg, again) {
				t.Fatal("two renders of the same chart differ")
			}
			golden(t, filepath.Join("testdata", f.name+".svg"), svg)
			golden(t, filepath.Join("testdata", f.name+".table.html"), table)
		})
	}
}

func render(t *testing.T, write func(io.Writer) error) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := write(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./web/chart -run TestGolden -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output; if the change is meant, rerun with -update and review the diff.\n%s", path, firstDiff(want, got))
	}
}

// firstDiff shows where two outputs part, with some context.
func firstDiff(want, got []byte) string {
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	from := max(0, i-80)
	return "want …" + string(want[from:min(len(want), i+80)]) + "…\n got …" + string(got[from:min(len(got), i+80)]) + "…"
}
