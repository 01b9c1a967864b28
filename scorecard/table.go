package scorecard

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/dataport/dataport"
)

// ColumnKind says how a column's values are read.
type ColumnKind uint8

const (
	Numeric     ColumnKind = iota // numbers; binned into ranges
	Categorical                   // labels; grouped by bad rate
)

func (k ColumnKind) String() string {
	if k == Categorical {
		return "categorical"
	}
	return "numeric"
}

// Column is one column of a Table.
type Column struct {
	Name string
	Kind ColumnKind
	// Values holds one value per row: the number for a numeric column, the index
	// into Levels for a categorical one. NaN marks a missing value.
	Values []float64
	// Levels are a categorical column's labels, in order of first appearance.
	Levels []string
	// Description is the column's cell in a second header row, when the file has one.
	Description string
}

// Table is a labelled data set held by column.
type Table struct {
	Columns []*Column
	// Lines holds the CSV line each row was read from, so errors can point at it.
	Lines []int
	// SHA256 is the hex SHA-256 of the bytes the table was read from.
	SHA256 string
	index  map[string]int
}

// Len returns the number of rows.
func (t *Table) Len() int { return len(t.Lines) }

// Column returns the column called name, or nil.
func (t *Table) Column(name string) *Column {
	if t.index == nil {
		t.index = make(map[string]int, len(t.Columns))
		for i, c := range t.Columns {
			t.index[c.Name] = i
		}
	}
	if i, ok := t.index[name]; ok {
		return t.Columns[i]
	}
	return nil
}

// Names returns the column names in file order.
func (t *Table) Names() []string {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	return names
}

// Subset returns a table of the given rows, in that order. Categorical columns
// share their levels with t.
func (t *Table) Subset(rows []int) *Table {
	s := &Table{Lines: make([]int, len(rows)), SHA256: t.SHA256, Columns: make([]*Column, len(t.Columns))}
	for i, r := range rows {
		s.Lines[i] = t.Lines[r]
	}
	for j, c := range t.Columns {
		v := make([]float64, len(rows))
		for i, r := range rows {
			v[i] = c.Values[r]
		}
		s.Columns[j] = &Column{Name: c.Name, Kind: c.Kind, Values: v, Levels: c.Levels, Description: c.Description}
	}
	return s
}

// ReadOptions says how ReadCSV reads a file.
type ReadOptions struct {
	// Comma is the field separator; zero means ','.
	Comma rune
	// Categorical names columns to read as categories even when every value is a
	// number (codes such as sex, education or a repayment status).
	Categorical []string
	// Missing lists the cells read as missing values, compared after trimming
	// spaces; nil means DefaultMissing.
	Missing []string
}

// DefaultMissing are the cells read as missing unless ReadOptions.Missing says otherwise.
var DefaultMissing = []string{"", "NA", "N/A", "NaN", "nan", "null", "NULL", "?"}

// ReadCSV reads a CSV file with a header row into a Table.
//
// A column is numeric when all its non-missing cells are numbers, categorical when
// it is listed in opts.Categorical or when most of its cells are not numbers. A
// column that is mostly numbers but has a few cells that are not is an error naming
// the first such cell's line: silently turning a typo into a missing value or a
// category would hide a broken extract. A row with more or fewer fields than the
// header is an error naming its line. A second header row (every cell text, above
// numeric data, as in some published data sets) is read as column descriptions.
func ReadCSV(r io.Reader, opts ReadOptions) (*Table, error) {
	const op = "scorecard.ReadCSV"
	h := sha256.New()
	cr := csv.NewReader(io.TeeReader(r, h))
	if opts.Comma != 0 {
		cr.Comma = opts.Comma
	}
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = false
	missing := opts.Missing
	if missing == nil {
		missing = DefaultMissing
	}
	isMissing := make(map[string]bool, len(missing))
	for _, m := range missing {
		isMissing[m] = true
	}

	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, dataport.Errorf(op, dataport.KindInvalid, "the CSV is empty: no header row")
	}
	if err != nil {
		return nil, csvError(op, err)
	}
	seen := make(map[string]int, len(header))
	for i := range header {
		name := strings.TrimSpace(header[i])
		if i == 0 {
			name = strings.TrimPrefix(name, "\ufeff")
		}
		if name == "" {
			return nil, dataport.Errorf(op, dataport.KindInvalid, "line 1: column %d has no name", i+1)
		}
		if j, dup := seen[name]; dup {
			return nil, dataport.Errorf(op, dataport.KindInvalid, "line 1: columns %d and %d are both called %q", j+1, i+1, name)
		}
		seen[name] = i
		header[i] = name
	}
	forced := make([]bool, len(header))
	for _, name := range opts.Categorical {
		i, ok := seen[name]
		if !ok {
			return nil, dataport.Errorf(op, dataport.KindInvalid, "no column %q to read as categorical (the columns are %s)", name, strings.Join(header, ", "))
		}
		forced[i] = true
	}

	var records [][]string
	var lines []int
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvError(op, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(header) {
			return nil, dataport.Errorf(op, dataport.KindInvalid, "line %d: %d fields, the header has %d", line, len(rec), len(header))
		}
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}
		records = append(records, rec)
		lines = append(lines, line)
	}
	_, _ = io.Copy(h, r) // hash trailing bytes the CSV reader left unread, if any

	isNum := func(s string) (float64, bool) {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
			return 0, false
		}
		return v, true
	}
	var desc []string
	if len(records) >= 2 && secondHeader(records, isMissing, isNum) {
		desc, records, lines = records[0], records[1:], lines[1:]
	}
	if len(records) == 0 {
		return nil, dataport.Errorf(op, dataport.KindInvalid, "the CSV has a header but no rows")
	}

	t := &Table{Lines: lines, SHA256: hex.EncodeToString(h.Sum(nil)), Columns: make([]*Column, len(header))}
	for j, name := range header {
		c := &Column{Name: name, Values: make([]float64, len(records))}
		if desc != nil {
			c.Description = desc[j]
		}
		numbers, texts, firstText := 0, 0, -1
		for i, rec := range records {
			s := rec[j]
			if isMissing[s] {
				continue
			}
			if _, ok := isNum(s); ok {
				numbers++
			} else {
				texts++
				if firstText < 0 {
					firstText = i
				}
			}
		}
		switch {
		case forced[j] || texts > numbers:
			c.Kind = Categorical
			code := make(map[string]int)
			for i, rec := range records {
				s := rec[j]
				if isMissing[s] {
					c.Values[i] = math.NaN()
					continue
				}
				k, ok := code[s]
				if !ok {
					k = len(c.Levels)
					code[s] = k
					c.Levels = append(c.Levels, s)
				}
				c.Values[i] = float64(k)
			}
		case texts > 0:
			return nil, dataport.Errorf(op, dataport.KindInvalid,
				"line %d, column %q: %q is not a number (declare the column categorical if it holds categories, or leave missing values empty)",
				lines[firstText], name, records[firstText][j])
		default:
			for i, rec := range records {
				if v, ok := isNum(rec[j]); ok {
					c.Values[i] = v
				} else {
					c.Values[i] = math.NaN()
				}
			}
		}
		t.Columns[j] = c
	}
	return t, nil
}

// secondHeader reports whether the first record is a row of column descriptions:
// every cell is text while some column is numeric in all the rows below it.
func secondHeader(records [][]string, isMissing map[string]bool, isNum func(string) (float64, bool)) bool {
	for _, s := range records[0] {
		if _, ok := isNum(s); ok || isMissing[s] {
			return false
		}
	}
	for j := range records[0] {
		numeric, some := true, false
		for _, rec := range records[1:] {
			if isMissing[rec[j]] {
				continue
			}
			if _, ok := isNum(rec[j]); !ok {
				numeric = false
				break
			}
			some = true
		}
		if numeric && some {
			return true
		}
	}
	return false
}

func csvError(op string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return dataport.Errorf(op, dataport.KindInvalid, "line %d: %v", pe.Line, pe.Err)
	}
	return dataport.Errorf(op, dataport.KindInvalid, "reading the CSV: %v", err)
}

// Labels returns the target column as 1 for a bad row and 0 for a good one. For a
// numeric target, bad is parsed as a number; empty bad means 1 when the column
// holds only 0 and 1. Every row needs a label, and both classes must occur.
func (t *Table) Labels(target, bad string) ([]float64, error) {
	const op = "scorecard.Labels"
	c := t.Column(target)
	if c == nil {
		return nil, dataport.Invalid(op, dataport.FieldProblem{Field: "target",
			Message: fmt.Sprintf("no column %q (the columns are %s)", target, strings.Join(t.Names(), ", "))})
	}
	y := make([]float64, len(c.Values))
	for i, v := range c.Values {
		if math.IsNaN(v) {
			return nil, dataport.Errorf(op, dataport.KindInvalid, "line %d: the target %q is missing; drop unlabelled rows (indeterminates) before training", t.Lines[i], target)
		}
	}
	switch c.Kind {
	case Numeric:
		var b float64
		if bad == "" {
			for i, v := range c.Values {
				if v != 0 && v != 1 {
					return nil, dataport.Invalid(op, dataport.FieldProblem{Field: "bad",
						Message: fmt.Sprintf("name the bad value: the target %q holds %v (line %d), not only 0 and 1", target, v, t.Lines[i])})
				}
			}
			b = 1
		} else {
			var err error
			b, err = strconv.ParseFloat(strings.TrimSpace(bad), 64)
			if err != nil {
				return nil, dataport.Invalid(op, dataport.FieldProblem{Field: "bad",
					Message: fmt.Sprintf("%q is not a number, and the target %q is numeric", bad, target)})
			}
		}
		for i, v := range c.Values {
			if v == b {
				y[i] = 1
			}
		}
	case Categorical:
		if bad == "" {
			return nil, dataport.Invalid(op, dataport.FieldProblem{Field: "bad",
				Message: fmt.Sprintf("name the bad value: the target %q holds %s", target, quoteList(c.Levels, 10))})
		}
		k := slices.Index(c.Levels, strings.TrimSpace(bad))
		for i, v := range c.Values {
			if int(v) == k {
				y[i] = 1
			}
		}
	}
	bads := 0
	for _, v := range y {
		bads += int(v)
	}
	switch {
	case bads == 0:
		return nil, dataport.Invalid(op, dataport.FieldProblem{Field: "target",
			Message: fmt.Sprintf("%q has one class only: no row has the bad value %s, and a scorecard needs both goods and bads", target, badName(bad))})
	case bads == len(y):
		return nil, dataport.Invalid(op, dataport.FieldProblem{Field: "target",
			Message: fmt.Sprintf("%q has one class only: every row has the bad value %s, and a scorecard needs both goods and bads", target, badName(bad))})
	}
	return y, nil
}

func badName(bad string) string {
	if bad == "" {
		return "1"
	}
	return strconv.Quote(bad)
}

func quoteList(s []string, max int) string {
	s = slices.Clone(s)
	sort.Strings(s)
	var q []string
	for i, v := range s {
		if i == max {
			q = append(q, "…")
			break
		}
		q = append(q, strconv.Quote(v))
	}
	return strings.Join(q, ", ")
}

// pass returns err unchanged when it already is the exchange's error type (whose Op
// names where it arose) or a cancellation, and wraps anything else as internal.
func pass(op string, err error) error {
	var e *dataport.Error
	if errors.As(err, &e) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return dataport.Wrap(op, err)
}
