package dsp_test

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// tckFiles are the files that hold the scenarios' tests: the protocol layer's here,
// and the running server's in the api package (dsp_test.go, and one file per side of
// each protocol beside it).
func tckFiles(t *testing.T) []string {
	t.Helper()
	api, err := filepath.Glob(filepath.Join("..", "api", "dsp*_test.go"))
	if err != nil || len(api) == 0 {
		t.Fatalf("no DSP tests in the api package (%v)", err)
	}
	return append([]string{"tck_test.go"}, api...)
}

var scenarioID = regexp.MustCompile(`^(CAT|MET|CN|CN_C|TP|TP_C):\d\d-\d\d$`)

// testName is the test of a scenario: CN_C:03-02 → TestTCK_CN_C_03_02.
func testName(id string) string {
	return "TestTCK_" + strings.NewReplacer(":", "_", "-", "_").Replace(id)
}

// SCENARIOS.md lists every scenario of the kit once, with the kit's own words,
// and says "runs" exactly for those that have a test in tckFiles; and every
// test there is a scenario's.
func TestScenariosPage(t *testing.T) {
	dir := needShared(t)
	f, err := os.Open(filepath.Join(dir, "TCK-SCENARIOS.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string]string{}
	var order []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		id, title, ok := strings.Cut(line, ": ")
		if !ok || !scenarioID.MatchString(id) {
			t.Fatalf("TCK-SCENARIOS.txt: unexpected line %q", line)
		}
		if _, dup := want[id]; dup {
			t.Fatalf("TCK-SCENARIOS.txt: %s twice", id)
		}
		want[id], order = title, append(order, id)
	}
	if len(want) != 67 {
		t.Fatalf("%d scenarios in the release's list, the issue says 67", len(want))
	}

	page, err := os.ReadFile("SCENARIOS.md")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	running := map[string]bool{}
	for _, line := range strings.Split(string(page), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 7 {
			continue
		}
		id := strings.TrimSpace(cells[1])
		if !scenarioID.MatchString(id) {
			continue
		}
		if seen[id] {
			t.Errorf("SCENARIOS.md lists %s twice", id)
		}
		seen[id] = true
		if got := strings.TrimSpace(cells[2]); got != want[id] {
			t.Errorf("SCENARIOS.md: %s is %q; the kit says %q", id, got, want[id])
		}
		switch status := strings.TrimSpace(cells[5]); {
		case strings.HasPrefix(status, "runs"):
			if !strings.Contains(status, "`"+testName(id)+"`") {
				t.Errorf("SCENARIOS.md: %s runs, but its status does not name %s", id, testName(id))
			}
			running[id] = true
		case status == "to do":
		default:
			t.Errorf("SCENARIOS.md: %s has status %q", id, status)
		}
	}
	for _, id := range order {
		if !seen[id] {
			t.Errorf("SCENARIOS.md does not list %s", id)
		}
	}

	// The scenarios run here at the protocol layer (tck_test.go) and against the
	// running server (the api package's dsp_test.go); a scenario may run in both.
	fset := token.NewFileSet()
	tests := map[string]bool{}
	files := tckFiles(t)
	for _, name := range files {
		file, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && strings.HasPrefix(fn.Name.Name, "TestTCK_") {
				tests[fn.Name.Name] = true
			}
		}
	}
	var names []string
	for id := range running {
		names = append(names, testName(id))
		if !tests[testName(id)] {
			t.Errorf("SCENARIOS.md says %s runs, but no file of %v has %s", id, files, testName(id))
		}
	}
	for name := range tests {
		if !slices.Contains(names, name) {
			t.Errorf("%s exists, but SCENARIOS.md does not list it as running", name)
		}
	}
	t.Logf("%d of %d scenarios run", len(running), len(want))
}
