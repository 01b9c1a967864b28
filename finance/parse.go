package finance

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"hash"
	"io"
	"strconv"
	"strings"

	"github.com/dataport/dataport"
)

// maxLine caps one row: a JSON line, or a CSV record with its read-ahead.
const maxLine = 64 << 10

var (
	errTooLarge   = errors.New("over the batch's byte limit")
	errRowTooLong = errors.New("a CSV record is longer than 64 KiB")
)

// hashing hashes and counts every byte read through it: the batch's attestation is
// the SHA-256 of exactly the bytes received. It refuses more than max bytes, and
// more than maxLine bytes since mark (one CSV record: encoding/csv keeps a whole
// record in memory, so an unterminated quote must not take the rest of the batch
// into it).
type hashing struct {
	r    io.Reader
	h    hash.Hash
	n    int64
	max  int64
	mark int64
	// limitRecord applies the record limit (CSV).
	limitRecord bool
}

func (h *hashing) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if n > 0 {
		h.h.Write(p[:n])
		h.n += int64(n)
	}
	if h.n > h.max {
		return n, errTooLarge
	}
	if h.limitRecord && h.n-h.mark > maxLine+bufferSize {
		return n, errRowTooLong
	}
	return n, err
}

// bufferSize is the read-ahead of encoding/csv's reader.
const bufferSize = 4096

// source yields the rows of a batch as text per field.
type source interface {
	// next reads the next row into rec and returns its line. A row that cannot be
	// read at all comes back as a problem; io.EOF ends the rows; any other error
	// fails the batch.
	next(rec *[nFields]string) (line int64, problem *RowProblem, err error)
}

// csvSource reads CSV with a header row naming the fields.
type csvSource struct {
	h    *hashing
	r    *csv.Reader
	cols []int // the field of each column
	n    int   // columns in the header
}

func newCSV(op string, h *hashing) (*csvSource, error) {
	h.limitRecord = true
	r := csv.NewReader(h)
	r.ReuseRecord = true
	header, err := r.Read()
	if err == io.EOF {
		return nil, dataport.Errorf(op, dataport.KindInvalid, "the batch is empty: a CSV batch starts with a header row naming its columns")
	}
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, dataport.Invalid(op, dataport.FieldProblem{Field: "header", Message: "line 1: " + pe.Err.Error()})
		}
		return nil, err
	}
	h.mark = h.n
	s := &csvSource{h: h, r: r, n: len(header), cols: make([]int, len(header))}
	var p dataport.Problems
	seen := [nFields]bool{}
	for i, name := range header {
		if i == 0 {
			name = strings.TrimPrefix(name, "\ufeff") // a byte-order mark, as spreadsheets write
		}
		name = strings.ToLower(strings.TrimSpace(name))
		f := fieldIndex(name)
		switch {
		case f < 0:
			p.Add("header", "column %d: unknown column %s; the columns are %s", i+1, quote(name), strings.Join(fieldNames[:], ", "))
		case seen[f]:
			p.Add("header", "column %d: %s twice", i+1, name)
		default:
			seen[f] = true
		}
		s.cols[i] = f
	}
	for _, f := range []int{fOrderID, fShop, fOrderedAt, fCurrency, fStatus} {
		if !seen[f] {
			p.Add("header", "no %s column", fieldNames[f])
		}
	}
	if !seen[fAmount] && !seen[fAmountMinor] {
		p.Add("header", "no amount or amount_minor column")
	}
	if err := p.Err(op); err != nil {
		return nil, err
	}
	return s, nil
}

func fieldIndex(name string) int {
	for i, n := range fieldNames {
		if n == name {
			return i
		}
	}
	return -1
}

func (s *csvSource) next(rec *[nFields]string) (int64, *RowProblem, error) {
	row, err := s.r.Read()
	s.h.mark = s.h.n
	if err == io.EOF {
		return 0, nil, io.EOF
	}
	if err != nil {
		var pe *csv.ParseError
		if !errors.As(err, &pe) {
			return 0, nil, err
		}
		reason := pe.Err.Error()
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			reason = "has " + strconv.Itoa(len(row)) + " fields; the header has " + strconv.Itoa(s.n)
		}
		return int64(pe.StartLine), &RowProblem{Line: int64(pe.StartLine), Reason: reason}, nil
	}
	line, _ := s.r.FieldPos(0)
	*rec = [nFields]string{}
	for i, v := range row {
		rec[s.cols[i]] = v
	}
	return int64(line), nil, nil
}

// jsonlSource reads one JSON object per line.
type jsonlSource struct {
	r    *bufio.Reader
	line int64
}

func newJSONL(h *hashing) *jsonlSource {
	return &jsonlSource{r: bufio.NewReaderSize(h, maxLine)}
}

// readLine returns the next line without its line end; a line longer than
// maxLine is skipped to its end and reported as too long.
func readLine(r *bufio.Reader) (line []byte, tooLong bool, err error) {
	b, err := r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		for err == bufio.ErrBufferFull {
			_, err = r.ReadSlice('\n')
		}
		if err == io.EOF {
			err = nil
		}
		return nil, true, err
	}
	if err == io.EOF && len(b) > 0 {
		err = nil
	}
	return bytes.TrimRight(b, "\r\n"), false, err
}

func (s *jsonlSource) next(rec *[nFields]string) (int64, *RowProblem, error) {
	for {
		b, tooLong, err := readLine(s.r)
		if err != nil {
			return 0, nil, err
		}
		s.line++
		if tooLong {
			return s.line, &RowProblem{Line: s.line, Reason: "longer than 64 KiB"}, nil
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue // blank lines separate nothing
		}
		if field, why := decodeJSONRow(b, rec); why != "" {
			return s.line, &RowProblem{Line: s.line, Field: field, Reason: why}, nil
		}
		return s.line, nil, nil
	}
}

// decodeJSONRow reads one JSON object into rec; it returns why not (and the field
// at fault, when one is), or "". A
// field's text is what was written: a string's content, a number's digits (never
// a float, so that 12.30 is 12.30), true or false, an array as it stands; null is
// empty. The line is checked to be valid JSON first, and then its members are
// picked out by hand: encoding/json's decoder took four times as long as the rest
// of ingest for a line.
func decodeJSONRow(b []byte, rec *[nFields]string) (field, why string) {
	*rec = [nFields]string{}
	if !json.Valid(b) {
		return "", "not valid JSON"
	}
	i := skipSpace(b, 0)
	if b[i] != '{' {
		return "", "not a JSON object of order fields"
	}
	i++
	for {
		i = skipSpace(b, i)
		switch b[i] {
		case '}':
			return "", ""
		case ',':
			i++
			continue
		}
		end := valueEnd(b, i) // the member's name
		name := b[i+1 : end-1]
		var unquoted string
		if bytes.IndexByte(name, '\\') >= 0 {
			json.Unmarshal(b[i:end], &unquoted)
			name = []byte(unquoted)
		}
		f, ok := fieldIndexes[string(name)]
		if !ok {
			return "", "unknown field " + quote(string(name))
		}
		i = skipSpace(b, end) + 1 // past the colon
		i = skipSpace(b, i)
		end = valueEnd(b, i)
		if (b[i] == '{' || b[i] == '[') && f != fLogistics {
			return fieldNames[f], "a string, a number, true or false"
		}
		rec[f] = text(b[i:end])
		i = end
	}
}

var fieldIndexes = func() map[string]int {
	m := map[string]int{}
	for i, n := range fieldNames {
		m[n] = i
	}
	return m
}()

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// valueEnd returns the end of the JSON value starting at b[i], in valid JSON.
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		for i++; i < len(b); i++ {
			switch b[i] {
			case '\\':
				i++
			case '"':
				return i + 1
			}
		}
		return i
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = valueEnd(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return i
	}
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
		i++
	}
	return i
}

// text is a JSON value as field text: a string's content, null as empty, any
// other value as written.
func text(raw []byte) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	if raw[0] != '"' {
		return string(raw)
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1])
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return string(raw)
	}
	return s
}
