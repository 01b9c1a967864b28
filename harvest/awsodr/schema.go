package awsodr

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// The registry validates every dataset file with pykwalify against its schema.yaml
// (a Kwalify schema: type, required, mapping, sequence, pattern, range, func) plus
// the "func" checks of its ext.py. We interpret schema.yaml at run time rather than
// copying its rules into Go, so that a registry change to a length limit, a new
// optional field or a new required one is honoured by the next harvest. A schema
// keyword or type we do not implement makes Read fail: validating less than the
// registry does, silently, would let malformed entries into the catalog.

// rule is one node of a compiled schema.
type rule struct {
	typ      string // str, bool, int, float, number, text, scalar, any, map, seq
	required bool
	pattern  *regexp.Regexp
	patSrc   string
	rng      *bounds
	enum     []string
	fn       string           // an ext.py check, see ext.go
	mapping  map[string]*rule // for typ map
	keys     []string         // mapping keys in schema order, for messages
	seq      *rule            // for typ seq: the rule every item follows
	unique   bool             // for a seq of scalars: no value twice
}

// bounds is pykwalify's "range": a string's length in characters, a sequence's or
// mapping's number of entries, or a number's value.
type bounds struct {
	min, max, minEx, maxEx *float64
}

// Keywords of a rule. pykwalify accepts aliases ("req", "map", "seq").
var ruleKeywords = map[string]bool{
	"type": true, "required": true, "req": true, "mapping": true, "map": true,
	"sequence": true, "seq": true, "pattern": true, "range": true, "enum": true,
	"func": true, "unique": true, "desc": true, "example": true, "name": true,
	"version": true,
}

var scalarTypes = map[string]bool{
	"str": true, "bool": true, "int": true, "float": true, "number": true,
	"text": true, "scalar": true, "any": true,
}

// compileSchema turns schema.yaml into a rule tree. known lists the ext.py checks
// implemented here; a "func" naming another is an error.
func compileSchema(data []byte, known map[string]bool) (*rule, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("schema.yaml: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("schema.yaml: not a mapping")
	}
	return compileRule(doc.Content[0], "", true, known)
}

func compileRule(n *yaml.Node, path string, root bool, known map[string]bool) (*rule, error) {
	where := path
	if where == "" {
		where = "(root)"
	}
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("schema.yaml line %d: rule for %s is not a mapping", n.Line, where)
	}
	r := &rule{}
	var mapping, sequence *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		if root && k == "extensions" {
			continue // ext.py: its checks are implemented in Go (ext.go)
		}
		if !ruleKeywords[k] {
			return nil, fmt.Errorf("schema.yaml line %d: %s: keyword %q is not supported", n.Content[i].Line, where, k)
		}
		switch k {
		case "type":
			r.typ = v.Value
		case "required", "req":
			b, ok := yamlBool(v)
			if !ok {
				return nil, fmt.Errorf("schema.yaml line %d: %s: required is not a boolean", v.Line, where)
			}
			r.required = b
		case "mapping", "map":
			mapping = v
		case "sequence", "seq":
			sequence = v
		case "pattern":
			re, err := compilePythonMatch(v.Value)
			if err != nil {
				return nil, fmt.Errorf("schema.yaml line %d: %s: pattern: %w", v.Line, where, err)
			}
			r.pattern, r.patSrc = re, v.Value
		case "range":
			b, err := compileBounds(v)
			if err != nil {
				return nil, fmt.Errorf("schema.yaml line %d: %s: range: %w", v.Line, where, err)
			}
			r.rng = b
		case "enum":
			if v.Kind != yaml.SequenceNode {
				return nil, fmt.Errorf("schema.yaml line %d: %s: enum is not a list", v.Line, where)
			}
			for _, e := range v.Content {
				r.enum = append(r.enum, e.Value)
			}
		case "func":
			if !known[v.Value] {
				return nil, fmt.Errorf("schema.yaml line %d: %s: check %q is not implemented", v.Line, where, v.Value)
			}
			r.fn = v.Value
		case "unique":
			r.unique, _ = yamlBool(v)
		}
	}
	switch {
	case r.typ == "" && mapping != nil:
		r.typ = "map"
	case r.typ == "" && sequence != nil:
		r.typ = "seq"
	case r.typ == "":
		r.typ = "str" // pykwalify's default type
	case r.typ == "mapping":
		r.typ = "map"
	case r.typ == "sequence":
		r.typ = "seq"
	}
	switch r.typ {
	case "map":
		if mapping == nil || mapping.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("schema.yaml line %d: %s: a map needs a mapping", n.Line, where)
		}
		r.mapping = map[string]*rule{}
		for i := 0; i+1 < len(mapping.Content); i += 2 {
			k := mapping.Content[i].Value
			if strings.HasPrefix(k, "regex;") || strings.HasPrefix(k, "re;") || k == "=" {
				return nil, fmt.Errorf("schema.yaml line %d: %s: key %q: regex and default keys are not supported", mapping.Content[i].Line, where, k)
			}
			sub, err := compileRule(mapping.Content[i+1], joinKey(path, k), false, known)
			if err != nil {
				return nil, err
			}
			r.mapping[k] = sub
			r.keys = append(r.keys, k)
		}
	case "seq":
		if sequence == nil || sequence.Kind != yaml.SequenceNode || len(sequence.Content) != 1 {
			return nil, fmt.Errorf("schema.yaml line %d: %s: a seq needs exactly one item rule", n.Line, where)
		}
		sub, err := compileRule(sequence.Content[0], path+"[]", false, known)
		if err != nil {
			return nil, err
		}
		r.seq = sub
	default:
		if !scalarTypes[r.typ] {
			return nil, fmt.Errorf("schema.yaml line %d: %s: type %q is not supported", n.Line, where, r.typ)
		}
		if mapping != nil || sequence != nil {
			return nil, fmt.Errorf("schema.yaml line %d: %s: type %s with a mapping or sequence", n.Line, where, r.typ)
		}
	}
	return r, nil
}

func compileBounds(n *yaml.Node) (*bounds, error) {
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("not a mapping")
	}
	b := &bounds{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		f, err := strconv.ParseFloat(n.Content[i+1].Value, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not a number", n.Content[i].Value, n.Content[i+1].Value)
		}
		switch n.Content[i].Value {
		case "min":
			b.min = &f
		case "max":
			b.max = &f
		case "min-ex":
			b.minEx = &f
		case "max-ex":
			b.maxEx = &f
		default:
			return nil, fmt.Errorf("unknown bound %q", n.Content[i].Value)
		}
	}
	return b, nil
}

// check reports how x breaks the bounds, or "".
func (b *bounds) check(x float64, what string) string {
	switch {
	case b.min != nil && x < *b.min:
		return fmt.Sprintf("%s %v is below the minimum of %v", what, x, *b.min)
	case b.max != nil && x > *b.max:
		return fmt.Sprintf("%s %v is above the maximum of %v", what, x, *b.max)
	case b.minEx != nil && x <= *b.minEx:
		return fmt.Sprintf("%s %v must be above %v", what, x, *b.minEx)
	case b.maxEx != nil && x >= *b.maxEx:
		return fmt.Sprintf("%s %v must be below %v", what, x, *b.maxEx)
	}
	return ""
}

// compilePythonMatch compiles a schema pattern with the semantics pykwalify gives
// it: Python's re.match, anchored at the start only, where "$" also matches before
// a final newline (a "|" block scalar ends with one).
func compilePythonMatch(p string) (*regexp.Regexp, error) {
	return regexp.Compile(`\A(?:` + pythonDollar(p) + `)`)
}

// compilePythonFullmatch is Python's re.fullmatch, used by ext.py's checks: the
// whole text must match, so "$" means the end of the text, as in Go.
func compilePythonFullmatch(p string) *regexp.Regexp {
	return regexp.MustCompile(`\A(?:` + p + `)\z`)
}

// pythonDollar rewrites every unescaped "$" outside a character class into Python's
// meaning of it (end of text, or before a newline that ends the text).
func pythonDollar(p string) string {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			b.WriteByte(c)
			i++
			b.WriteByte(p[i])
			continue
		case c == '[' && !inClass:
			inClass = true
		case c == ']' && inClass:
			inClass = false
		case c == '$' && !inClass:
			b.WriteString(`(?:\n?\z)`)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// fieldError is one way a file breaks the rules.
type fieldError struct {
	field string // "Resources[2].ARN"; "" for the file as a whole
	line  int
	msg   string
}

// validator walks one document along the rule tree.
type validator struct {
	ext    *extChecks
	errs   []fieldError
	budget int // node visits left: bounds the work aliases can cause
}

// optionalAtRoot names required root keys the registry adds at build time from git
// history (its _scripts/add_metadata.sh appends them), so a checkout lacks them.
var optionalAtRoot = map[string]bool{
	"RegistryEntryAdded":        true,
	"RegistryEntryLastModified": true,
}

const maxVisits = 1 << 20

func (v *validator) add(field string, n *yaml.Node, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	v.errs = append(v.errs, fieldError{field: field, line: line, msg: fmt.Sprintf(format, args...)})
}

func (v *validator) check(n *yaml.Node, r *rule, path string, root bool) {
	n = deref(n)
	if v.budget--; v.budget < 0 {
		if v.budget == -1 {
			v.add(path, n, "document too large or too deeply aliased")
		}
		return
	}
	if isNull(n) {
		switch {
		case r.required:
			v.add(path, n, "is required but has no value")
		case r.fn != "" && r.typ != "map" && r.typ != "seq":
			// pykwalify runs a scalar's check even on an empty value, and every
			// check in ext.py rejects one.
			v.add(path, n, "has no value")
		}
		return
	}
	switch r.typ {
	case "map":
		v.checkMap(n, r, path, root)
	case "seq":
		v.checkSeq(n, r, path)
	default:
		v.checkScalar(n, r, path)
	}
}

func (v *validator) checkMap(n *yaml.Node, r *rule, path string, root bool) {
	if n.Kind != yaml.MappingNode {
		v.add(path, n, "must be a mapping, not %s", describe(n))
		return
	}
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := deref(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			v.add(path, k, "has a key that is not a string")
			continue
		}
		field := joinKey(path, k.Value)
		if seen[k.Value] {
			v.add(field, k, "is given twice")
			continue
		}
		seen[k.Value] = true
		sub, ok := r.mapping[k.Value]
		if !ok {
			v.add(field, k, "is not a field of the registry's schema (allowed: %s)", strings.Join(r.keys, ", "))
			continue
		}
		v.check(val, sub, field, false)
	}
	for _, k := range r.keys {
		if r.mapping[k].required && !seen[k] && !(root && optionalAtRoot[k]) {
			v.add(joinKey(path, k), n, "is required but missing")
		}
	}
	if r.rng != nil {
		if msg := r.rng.check(float64(len(n.Content)/2), "number of entries"); msg != "" {
			v.add(path, n, "%s", msg)
		}
	}
}

func (v *validator) checkSeq(n *yaml.Node, r *rule, path string) {
	if n.Kind != yaml.SequenceNode {
		v.add(path, n, "must be a list, not %s", describe(n))
		return
	}
	var seen map[string]int
	for i, item := range n.Content {
		field := fmt.Sprintf("%s[%d]", path, i)
		v.check(item, r.seq, field, false)
		if r.seq.unique {
			item = deref(item)
			if item.Kind == yaml.ScalarNode && !isNull(item) {
				if seen == nil {
					seen = map[string]int{}
				}
				if j, dup := seen[item.Value]; dup {
					v.add(field, item, "repeats %q of %s[%d]", item.Value, path, j)
				} else {
					seen[item.Value] = i
				}
			}
		}
	}
	if r.rng != nil {
		if msg := r.rng.check(float64(len(n.Content)), "number of items"); msg != "" {
			v.add(path, n, "%s", msg)
		}
	}
}

func (v *validator) checkScalar(n *yaml.Node, r *rule, path string) {
	if n.Kind != yaml.ScalarNode {
		if r.typ != "any" {
			v.add(path, n, "must be %s, not %s", typeNames[r.typ], describe(n))
		}
		return
	}
	tag := n.ShortTag()
	ok := false
	switch r.typ {
	case "str":
		// A plain 2019-04-01 is a string in YAML 1.2's core schema; our YAML
		// library resolves it as a timestamp. The registry writes its entry dates
		// that way (add_metadata.sh) and its schema calls them str.
		ok = tag == "!!str" || tag == "!!timestamp"
	case "bool":
		_, ok = yamlBool(n)
	case "int":
		ok = tag == "!!int"
	case "float":
		ok = tag == "!!float"
	case "number":
		ok = tag == "!!int" || tag == "!!float"
	case "text":
		ok = tag == "!!str" || tag == "!!int" || tag == "!!float"
	case "scalar", "any":
		ok = true
	}
	if !ok {
		v.add(path, n, "must be %s, not %s", typeNames[r.typ], describe(n))
		return
	}
	if r.enum != nil && !slices.Contains(r.enum, n.Value) {
		v.add(path, n, "%q is not one of %s", n.Value, strings.Join(r.enum, ", "))
	}
	if r.pattern != nil && !r.pattern.MatchString(n.Value) {
		v.add(path, n, "%q does not match the pattern %s", clipValue(n.Value), r.patSrc)
	}
	if r.rng != nil {
		x := float64(utf8.RuneCountInString(n.Value))
		what := "length"
		if tag == "!!int" || tag == "!!float" {
			x, _ = strconv.ParseFloat(n.Value, 64)
			what = "value"
			if math.IsNaN(x) {
				v.add(path, n, "is not a number")
				return
			}
		}
		if msg := r.rng.check(x, what); msg != "" {
			v.add(path, n, "%s", msg)
		}
	}
	if r.fn != "" {
		if msg := v.ext.run(r.fn, n.Value); msg != "" {
			v.add(path, n, "%s", msg)
		}
	}
}

var typeNames = map[string]string{
	"str": "a string", "bool": "a boolean (true or false)", "int": "an integer",
	"float": "a decimal number", "number": "a number", "text": "a string or number",
	"scalar": "a single value", "any": "a value", "map": "a mapping", "seq": "a list",
}

// describe names what a node is, for messages: `a list`, `the string "abc"`.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.ShortTag() {
	case "!!str":
		return fmt.Sprintf("the string %q", clipValue(n.Value))
	case "!!int":
		return "the integer " + n.Value
	case "!!float":
		return "the number " + n.Value
	case "!!bool":
		return "the boolean " + n.Value
	case "!!timestamp":
		return "the date " + n.Value
	case "!!null":
		return "an empty value"
	}
	return fmt.Sprintf("%s %q", n.ShortTag(), clipValue(n.Value))
}

// clipValue shortens a value quoted in a message.
func clipValue(s string) string {
	const max = 80
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max]) + "…"
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// yamlBool reads a boolean. Besides YAML 1.2's true/false it takes YAML 1.1's
// yes/no/on/off: the registry's loader has been either over the years, and a file
// written for one must not be a different dataset for us.
func yamlBool(n *yaml.Node) (value, ok bool) {
	if n.Kind != yaml.ScalarNode {
		return false, false
	}
	tag := n.ShortTag()
	if tag != "!!bool" && tag != "!!str" || n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
		return false, false
	}
	switch n.Value {
	case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON":
		return true, true
	case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF":
		return false, true
	}
	return false, false
}
