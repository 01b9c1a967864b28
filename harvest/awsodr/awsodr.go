// Package awsodr reads the Registry of Open Data on AWS from a checkout of its
// repository (github.com/awslabs/open-data-registry): one YAML file per dataset in
// datasets/, checked as the registry checks them (schema.yaml and the checks of its
// ext.py) and mapped to harvest records.
//
// A file that breaks the registry's rules yields a harvest.Problem naming the
// field and what is wrong, and no record: publishing half of a malformed entry
// would put wrong offers in the catalog, and the registry itself would not list it.
package awsodr

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/harvest"
)

const op = "awsodr.Read"

// maxFileSize bounds one dataset file. The largest real entries (long NASA
// descriptions) are under 1 MB.
const maxFileSize = 32 << 20

// Connector reads a registry checkout. It keeps no state between runs.
type Connector struct {
	dir string
}

var _ harvest.Connector = (*Connector)(nil)

// New returns a connector for the registry checkout at dir, which holds datasets/,
// schema.yaml and the registry's lists (tags.yaml, resources.yaml,
// adx_categories.yaml, and services.yaml when present).
func New(dir string) *Connector {
	return &Connector{dir: dir}
}

// Read reads every datasets/*.yaml file in name order, one at a time, and calls
// yield with its record or problem with what is wrong with it. It returns an error
// when the checkout as a whole cannot be read (no datasets folder, no schema or
// lists, a schema using rules this package does not implement), when ctx ends, or
// when yield fails.
//
// Files not ending in .yaml are skipped, as the registry's build skips them, and
// so are hidden files (editor swap and backup files).
func (c *Connector) Read(ctx context.Context, yield func(harvest.Record) error, problem func(harvest.Problem)) error {
	datasets := filepath.Join(c.dir, "datasets")
	entries, err := os.ReadDir(datasets)
	if err != nil {
		return unreadable("datasets folder", err)
	}
	schema, err := os.ReadFile(filepath.Join(c.dir, "schema.yaml"))
	if err != nil {
		return unreadable("schema.yaml", err)
	}
	ext, err := loadExtChecks(c.dir)
	if err != nil {
		return unreadable("registry lists", err)
	}
	root, err := compileSchema(schema, extFuncs)
	if err != nil {
		// The registry changed its schema in a way this package cannot follow:
		// validating less than the registry would, silently, is worse than failing.
		return &dataport.Error{Op: op, Kind: dataport.KindInternal, Message: "registry schema not supported", Err: err}
	}
	history := gitHistory(ctx, c.dir)

	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := e.Name()
		if !strings.HasSuffix(name, ".yaml") || strings.HasPrefix(name, ".") {
			continue
		}
		id, ref := strings.TrimSuffix(name, ".yaml"), "datasets/"+name
		info, err := os.Stat(filepath.Join(datasets, name)) // follows links
		if err != nil {
			problem(harvest.Problem{Ref: ref, ID: id, Reason: "cannot read the file: " + cause(err)})
			continue
		}
		if !info.Mode().IsRegular() {
			continue
		}
		if info.Size() > maxFileSize {
			problem(harvest.Problem{Ref: ref, ID: id, Reason: fmt.Sprintf("the file is %d bytes, over the limit of %d", info.Size(), maxFileSize)})
			continue
		}
		data, err := os.ReadFile(filepath.Join(datasets, name))
		if err != nil {
			problem(harvest.Problem{Ref: ref, ID: id, Reason: "cannot read the file: " + cause(err)})
			continue
		}
		rec, errs := parseFile(id, ref, data, root, ext, history[ref])
		if len(errs) > 0 {
			problem(problemOf(ref, id, errs))
			continue
		}
		if err := yield(rec); err != nil {
			return err
		}
	}
	return nil
}

// cause is err without the file path: a problem names the file in Ref already, by
// its place in the registry rather than on this machine.
func cause(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func unreadable(what string, err error) error {
	return &dataport.Error{Op: op, Kind: dataport.KindUnavailable, Message: "registry checkout unreadable: " + what, Err: err}
}

// parseFile decodes, validates and maps one dataset file.
func parseFile(id, ref string, data []byte, root *rule, ext *extChecks, dates entryDates) (harvest.Record, []fieldError) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return harvest.Record{}, []fieldError{{msg: "the file has no YAML content"}}
		}
		return harvest.Record{}, []fieldError{{msg: "malformed YAML: " + err.Error()}}
	}
	var more yaml.Node
	switch err := dec.Decode(&more); {
	case err == nil:
		return harvest.Record{}, []fieldError{{line: more.Line, msg: "the file holds more than one YAML document"}}
	case err != io.EOF:
		return harvest.Record{}, []fieldError{{msg: "malformed YAML: " + err.Error()}}
	}
	if len(doc.Content) == 0 {
		return harvest.Record{}, []fieldError{{msg: "the file has no YAML content"}}
	}
	top := doc.Content[0]
	if isNull(deref(top)) {
		// "~", "null" or an anchor with nothing under it: no description at all,
		// which the schema (whose root is not marked required) would let through.
		return harvest.Record{}, []fieldError{{line: top.Line, msg: "the file has no YAML content"}}
	}
	v := &validator{ext: ext, budget: maxVisits}
	v.check(top, root, "", true)
	if len(v.errs) == 0 {
		v.errs = checkResources(mapValue(deref(top), "Resources"))
	}
	if len(v.errs) == 0 {
		if name := mapValue(top, "Name"); name != nil && strings.TrimSpace(name.Value) == "" {
			// A record needs a title; the schema's length limit counts blanks.
			v.add("Name", name, "is blank")
		}
	}
	if len(v.errs) > 0 {
		return harvest.Record{}, v.errs
	}
	return buildRecord(id, ref, deref(top), dates), nil
}

// problemOf reports a file's errors as one problem: the first field at fault in
// Field, every error (up to a limit) in Reason, in file order.
func problemOf(ref, id string, errs []fieldError) harvest.Problem {
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].line < errs[j].line })
	const shown = 10
	parts := make([]string, 0, min(len(errs), shown)+1)
	for i, e := range errs {
		if i == shown {
			parts = append(parts, fmt.Sprintf("and %d more", len(errs)-shown))
			break
		}
		s := e.msg
		if e.field != "" {
			s = e.field + ": " + s
		}
		if e.line > 0 {
			s += fmt.Sprintf(" (line %d)", e.line)
		}
		parts = append(parts, s)
	}
	return harvest.Problem{Ref: ref, ID: id, Field: errs[0].field, Reason: strings.Join(parts, "; ")}
}

// mapValue returns the value of key in a mapping node, or nil.
func mapValue(m *yaml.Node, key string) *yaml.Node {
	m = deref(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return deref(m.Content[i+1])
		}
	}
	return nil
}

// entryDates are a file's RegistryEntryAdded and RegistryEntryLastModified as the
// registry derives them (YYYY-MM-DD).
type entryDates struct {
	added, modified string
}

// gitHistory derives the entry dates of every dataset file from git history when
// dir is a git checkout, as the registry's _scripts/add_metadata.sh does before it
// publishes: the author date of the oldest and of the newest commit touching the
// file (git log <file>, no rename following). One git log for all files, not two
// per file. Without a checkout, or if git fails, there are no dates: they are
// optional in a record and no reason to fail a harvest.
func gitHistory(ctx context.Context, dir string) map[string]entryDates {
	if _, err := os.Stat(filepath.Join(dir, ".git")); err != nil {
		return nil
	}
	git, err := exec.LookPath("git")
	if err != nil {
		return nil
	}
	cmd := exec.CommandContext(ctx, git, "-C", dir, "-c", "core.quotePath=false",
		"log", "--format=%x1e%ai", "--name-only", "--", "datasets")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil
	}
	if err := cmd.Start(); err != nil {
		return nil
	}
	dates := map[string]entryDates{}
	var day string
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if d, ok := strings.CutPrefix(line, "\x1e"); ok {
			day, _, _ = strings.Cut(d, " ") // "2019-03-04 10:11:12 +0100": the author's local day
			continue
		}
		if line == "" || day == "" {
			continue
		}
		e, seen := dates[line]
		if !seen {
			e.modified = day // log runs newest first
		}
		e.added = day
		dates[line] = e
	}
	if sc.Err() != nil || cmd.Wait() != nil {
		return nil
	}
	return dates
}

// parseDay reads a YYYY-MM-DD date as midnight UTC.
func parseDay(s string) (time.Time, bool) {
	t, err := time.Parse(time.DateOnly, strings.TrimSpace(s))
	return t, err == nil
}
