package scorecard

import (
	"context"
	"strings"
	"testing"

	"github.com/dataport/dataport"
)

func TestBadInput(t *testing.T) {
	cases := []struct {
		name, csv, target, bad string
		opts                   ReadOptions
		want                   string
	}{
		{name: "empty", csv: "", want: "the CSV is empty"},
		{name: "blank lines", csv: "\n\n", want: "the CSV is empty"},
		{name: "header only", csv: "x,y\n", want: "header but no rows"},
		{name: "ragged row", csv: "x,y\n1,0\n2,1\n3\n", want: "line 4: 1 fields, the header has 2"},
		{name: "long row", csv: "x,y\n1,0\n2,1,9\n", want: "line 3: 3 fields"},
		{name: "text in a numeric column", csv: "x,y\n1,0\n2,1\nabc,0\n4,1\n", want: `line 4, column "x": "abc" is not a number`},
		{name: "bare quote", csv: "x,y\n1,0\n2\"x,1\n", want: "line 3"},
		{name: "duplicate column", csv: "x,x\n1,0\n", want: `both called "x"`},
		{name: "unknown categorical", csv: "x,y\n1,0\n", opts: ReadOptions{Categorical: []string{"z"}}, want: `no column "z"`},
		{name: "unknown target", csv: "x,y\n1,0\n2,1\n", target: "z", want: `target: no column "z" (the columns are x, y)`},
		{name: "one class", csv: "x,y\n1,0\n2,0\n3,0\n", target: "y", want: "one class only"},
		{name: "all bad", csv: "x,y\n1,1\n2,1\n", target: "y", want: "every row has the bad value"},
		{name: "bad value absent", csv: "x,y\n1,0\n2,1\n", target: "y", bad: "2", want: "no row has the bad value"},
		{name: "non-numeric bad value", csv: "x,y\n1,0\n2,1\n", target: "y", bad: "yes", want: `"yes" is not a number, and the target "y" is numeric`},
		{name: "target not 0/1", csv: "x,y\n1,0\n2,3\n", target: "y", want: "name the bad value"},
		{name: "text target without bad", csv: "x,y\n1,good\n2,bad\n", target: "y", want: "name the bad value"},
		{name: "missing label", csv: "x,y\n1,0\n2,\n3,1\n", target: "y", want: "line 3: the target"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tab, err := ReadCSV(strings.NewReader(c.csv), c.opts)
			if err == nil {
				_, err = Train(tab, c.target, Config{Bad: c.bad, FineBins: 20, MinBinShare: 0.05, Trend: TrendAuto, L2: 1, Grades: 5,
					Scaling: Scaling{BasePoints: 600, BaseOdds: 50, PDO: 20}})
			}
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q, want it to say %q", err, c.want)
			}
			t.Log(err)
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("a multi-line error: %q", err)
			}
			if dataport.KindOf(err) != dataport.KindInvalid {
				t.Fatalf("kind %v", dataport.KindOf(err))
			}
		})
	}
}

func TestReadCSV(t *testing.T) {
	// A second header row of descriptions, a BOM, missing tokens, a text target.
	csv := "\ufeffID,limit,sex,y\nid,credit limit,gender,default\n1,1000,m,no\n2,NA,f,yes\n3,3000,f,no\n"
	tab := readString(t, csv, ReadOptions{})
	if tab.Len() != 3 || tab.Lines[0] != 3 || tab.Column("ID") == nil || tab.Column("limit").Description != "credit limit" {
		t.Fatalf("table %+v", tab)
	}
	if lim := tab.Column("limit"); lim.Kind != Numeric || lim.Values[1] == lim.Values[1] {
		t.Fatalf("limit %+v: NA is missing", lim)
	}
	if sex := tab.Column("sex"); sex.Kind != Categorical || len(sex.Levels) != 2 {
		t.Fatalf("sex %+v", sex)
	}
	y, err := tab.Labels("y", "yes")
	if err != nil || y[1] != 1 || y[0] != 0 {
		t.Fatalf("labels %v %v", y, err)
	}
	// Numeric codes read as categories on request.
	tab = readString(t, "code,y\n1,0\n2,1\n", ReadOptions{Categorical: []string{"code"}})
	if tab.Column("code").Kind != Categorical {
		t.Fatal("code is not categorical")
	}
	// The hash is of the bytes.
	a, b := readString(t, "x,y\n1,0\n", ReadOptions{}), readString(t, "x,y\n1,0\n", ReadOptions{})
	c := readString(t, "x,y\n1,0\n\n", ReadOptions{})
	if a.SHA256 != b.SHA256 || a.SHA256 == c.SHA256 || len(a.SHA256) != 64 {
		t.Fatal("the data hash is not of the bytes")
	}
}

func TestBadConfigAndFolds(t *testing.T) {
	tab := readString(t, synthetic(200, 1), ReadOptions{})
	if _, err := Train(tab, "bad", Config{}); err == nil || !strings.Contains(err.Error(), "fine_bins") {
		t.Fatalf("a zero config: %v", err)
	}
	cfg := DefaultConfig()
	cfg.Exclude = []string{"nope"}
	if _, err := Train(tab, "bad", cfg); err == nil || !strings.Contains(err.Error(), `no column "nope"`) {
		t.Fatalf("an unknown exclusion: %v", err)
	}
	cfg = DefaultConfig()
	if _, err := CrossValidate(context.Background(), tab, "bad", cfg, CVOptions{Folds: 1}); err == nil {
		t.Fatal("1-fold cross-validation passed")
	}
	few := readString(t, "x,y\n1,0\n2,1\n3,0\n4,0\n", ReadOptions{})
	if _, err := CrossValidate(context.Background(), few, "y", cfg, CVOptions{Folds: 3}); err == nil || !strings.Contains(err.Error(), "at least 3 bads") {
		t.Fatalf("3 folds over one bad: %v", err)
	}
	// Nothing predicts a label independent of every column.
	noise := "x,y\n" + strings.Repeat("1,0\n1,1\n", 50)
	if _, err := Train(readString(t, noise, ReadOptions{}), "y", cfg); err == nil || !strings.Contains(err.Error(), "no characteristic") {
		t.Fatalf("noise: %v", err)
	}
}
