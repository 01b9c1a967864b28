package compliance

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/ext"
	"github.com/dataport/dataport"
	"go.yaml.in/yaml/v3"
)

// A rule pack, as written (YAML):
//
//	version: "2026.11"             the pack's version, unique
//	description: …
//	data: {…}                      thresholds, purpose lists, the FTZ negative lists,
//	                               the holiday calendar: `pack.<key>` in CEL
//	requirements:                  what a rule may require, and what satisfies it
//	  - id: contract_or_certification
//	    name: {en: …, zh: …}
//	    any_of: [[standard_contract], [pi_certification]]   approval kinds, or
//	    satisfied_if: <CEL>                                  a condition on the facts
//	    exemptible: true           may an exemption rule remove it
//	rules:                         evaluated in order
//	  - id: R6
//	    when: <CEL bool>           over the facts, pack, today and earlier derived names
//	    outcome: deny              and/or
//	    requires: [id, …]          and/or requires_expr: <CEL list of ids>
//	    exempts: [R4, R5, R6]      rules whose requirements this one removes
//	    derive: [{name: …, expr: …}]   names later rules may use
//	    invalidates: <approval kind>   `when` over `approval` and `today`: the approval does not satisfy
//	    reason: {en: …, zh: …}
//	    source: …                  the citation
//	tests:                         run at every compile; a failing case refuses the pack
//	  - name: …
//	    facts: {…}
//	    approvals: [{…}]
//	    today: 2026-06-01
//	    expect: {outcome: require, fired: [R6, R13], not_fired: [R5], satisfied: {contract_or_certification: false}}

// Bilingual reasons and names.
type Bilingual = dataport.Bilingual

// Pack is a compiled rule pack, ready to assess.
type Pack struct {
	Version     string
	Description string
	SHA256      string // of the source
	Source      []byte

	data         map[string]any
	packVal      any // data as a CEL value
	holidays     map[string]bool
	requirements map[string]*requirement
	reqOrder     []string
	derives      []*rule // rules that derive names, in order
	rules        []*rule // rules with an effect, in order
	invalidators map[string][]*rule
	env          *cel.Env
	ruleIDs      []string
}

type requirement struct {
	ID          string
	Name        Bilingual
	AnyOf       [][]string
	Exemptible  bool
	satisfiedIf cel.Program
}

type derivation struct {
	Name string
	prg  cel.Program
}

type rule struct {
	ID          string
	Line        int
	Deny        bool
	Requires    []string
	Exempts     []string
	Invalidates string
	Reason      Bilingual
	Source      string
	when        cel.Program
	requiresX   cel.Program
	derive      []derivation
}

// ApprovalKinds are the approvals the engine tracks (CROSS-BORDER-RULES, "Approvals
// the engine tracks", and the R13 evidence).
var ApprovalKinds = []string{"security_assessment", "standard_contract", "pi_certification", "ftz_post_export_report",
	"pipia_report", "notice_declaration", "consent_declaration"}

// PackError is a refused pack: which rule (or requirement, or test case), at which
// line, and why.
type PackError struct {
	Rule string // "rule R6", "requirement pi_protection", "test 3 (…)"
	Line int
	Msg  string
}

func (e *PackError) Error() string {
	where := ""
	switch {
	case e.Rule != "" && e.Line > 0:
		where = fmt.Sprintf("%s (line %d): ", e.Rule, e.Line)
	case e.Rule != "":
		where = e.Rule + ": "
	case e.Line > 0:
		where = fmt.Sprintf("line %d: ", e.Line)
	}
	return where + e.Msg
}

// Date is a calendar day, YYYY-MM-DD.
type Date = string

// ApprovalFacts are what an invalidating rule sees of an approval, as `approval`.
type ApprovalFacts struct {
	Kind          string    `json:"kind"`
	Reference     string    `json:"reference"`
	IssuedOn      time.Time `json:"issued_on"`
	EffectiveOn   time.Time `json:"effective_on"`
	Filed         bool      `json:"filed"`
	FiledOn       time.Time `json:"filed_on"`
	HasValidUntil bool      `json:"has_valid_until"`
	ValidUntil    time.Time `json:"valid_until"`
	Extended      bool      `json:"extended"`
}

var (
	idPattern      = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,63}$`)
	versionPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	derivedName    = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// factNames are the top-level names of the facts in CEL.
var factNames = []string{"context", "direction", "exporter", "recipient", "data", "pi_subjects_ytd", "sensitive_pi_subjects_ytd",
	"purpose", "delivery_mode", "supplier", "agent", "product", "pack", "today", "approval"}

// Compile parses and compiles a pack, then runs its test cases: a pack that does not
// compile or fails a case is refused with a *PackError.
func Compile(src []byte) (*Pack, error) { return compile(src, true) }

func compile(src []byte, withTests bool) (*Pack, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		return nil, &PackError{Msg: "not YAML: " + err.Error()}
	}
	if len(root.Content) != 1 || root.Content[0].Kind != yaml.MappingNode {
		return nil, &PackError{Line: 1, Msg: "a pack is a YAML mapping"}
	}
	doc := root.Content[0]
	if err := checkKeys(doc, "", "version", "description", "data", "requirements", "rules", "tests"); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(src)
	p := &Pack{SHA256: hex.EncodeToString(sum[:]), Source: bytes.Clone(src), requirements: map[string]*requirement{},
		invalidators: map[string][]*rule{}, holidays: map[string]bool{}}
	if v := field(doc, "version"); v == nil || v.Kind != yaml.ScalarNode || !versionPattern.MatchString(v.Value) {
		return nil, &PackError{Line: lineOf(v, doc), Msg: "version: a version string such as 2026.11"}
	} else {
		p.Version = v.Value
	}
	if d := field(doc, "description"); d != nil {
		p.Description = d.Value
	}
	p.data = map[string]any{}
	if d := field(doc, "data"); d != nil {
		if err := d.Decode(&p.data); err != nil {
			return nil, &PackError{Line: d.Line, Msg: "data: " + err.Error()}
		}
		p.data = normalise(p.data).(map[string]any)
	}
	if hs, ok := p.data["holidays"].([]any); ok {
		for _, h := range hs {
			s := fmt.Sprint(h)
			if _, err := time.Parse(time.DateOnly, s); err != nil {
				return nil, &PackError{Line: field(field(doc, "data"), "holidays").Line, Msg: fmt.Sprintf("data.holidays: %q is not a date", s)}
			}
			p.holidays[s] = true
		}
	}
	env, err := p.newEnv()
	if err != nil {
		return nil, &PackError{Msg: "CEL environment: " + err.Error()}
	}
	p.env = env
	p.packVal = env.CELTypeAdapter().NativeToValue(p.data)
	if err := p.compileRequirements(field(doc, "requirements")); err != nil {
		return nil, err
	}
	if err := p.compileRules(field(doc, "rules")); err != nil {
		return nil, err
	}
	if withTests {
		if err := p.runTests(field(doc, "tests")); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// normalise turns YAML's decoded values into what CEL adapts: map[string]any, []any,
// int64, float64, string, bool.
func normalise(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalise(e)
		}
		return x
	case map[any]any:
		m := map[string]any{}
		for k, e := range x {
			m[fmt.Sprint(k)] = normalise(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = normalise(e)
		}
		return x
	case int:
		return int64(x)
	case time.Time:
		return x.Format(time.DateOnly)
	}
	return v
}

func field(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func lineOf(n, fallback *yaml.Node) int {
	if n != nil {
		return n.Line
	}
	return fallback.Line
}

// checkKeys refuses keys a mapping should not have: a misspelt key is an error, not
// a silently ignored rule part.
func checkKeys(m *yaml.Node, rule string, allowed ...string) error {
	if m.Kind != yaml.MappingNode {
		return &PackError{Rule: rule, Line: m.Line, Msg: "expected a mapping"}
	}
	for i := 0; i < len(m.Content); i += 2 {
		if !slices.Contains(allowed, m.Content[i].Value) {
			return &PackError{Rule: rule, Line: m.Content[i].Line, Msg: fmt.Sprintf("unknown field %q (known: %s)", m.Content[i].Value, strings.Join(allowed, ", "))}
		}
	}
	return nil
}

func (p *Pack) newEnv() (*cel.Env, error) {
	obj := func(name string) *cel.Type { return cel.ObjectType("compliance." + name) }
	return cel.NewEnv(
		ext.NativeTypes(reflect.TypeFor[ExporterFacts](), reflect.TypeFor[RecipientFacts](), reflect.TypeFor[DataFacts](),
			reflect.TypeFor[SupplierFacts](), reflect.TypeFor[AgentFacts](), reflect.TypeFor[ProductFacts](), reflect.TypeFor[ApprovalFacts](),
			ext.ParseStructTag("json")),
		ext.Strings(), ext.Lists(), ext.Sets(),
		cel.Variable("context", cel.StringType),
		cel.Variable("direction", cel.StringType),
		cel.Variable("exporter", obj("ExporterFacts")),
		cel.Variable("recipient", obj("RecipientFacts")),
		cel.Variable("data", obj("DataFacts")),
		cel.Variable("pi_subjects_ytd", cel.IntType),
		cel.Variable("sensitive_pi_subjects_ytd", cel.IntType),
		cel.Variable("purpose", cel.StringType),
		cel.Variable("delivery_mode", cel.StringType),
		cel.Variable("supplier", obj("SupplierFacts")),
		cel.Variable("agent", obj("AgentFacts")),
		cel.Variable("product", obj("ProductFacts")),
		cel.Variable("pack", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("today", cel.TimestampType),
		cel.Variable("approval", obj("ApprovalFacts")),
		// working_days(from, to): working days after from up to and including to,
		// weekends and the pack's holidays excluded (CROSS-BORDER-RULES, "Working days").
		cel.Function("working_days", cel.Overload("working_days_timestamp_timestamp",
			[]*cel.Type{cel.TimestampType, cel.TimestampType}, cel.IntType,
			cel.BinaryBinding(func(a, b ref.Val) ref.Val {
				return types.Int(p.workingDays(a.Value().(time.Time), b.Value().(time.Time)))
			}))),
		// add_years(t, n): the same calendar day n years on.
		cel.Function("add_years", cel.Overload("add_years_timestamp_int",
			[]*cel.Type{cel.TimestampType, cel.IntType}, cel.TimestampType,
			cel.BinaryBinding(func(a, b ref.Val) ref.Val {
				return types.Timestamp{Time: a.Value().(time.Time).AddDate(int(b.Value().(int64)), 0, 0)}
			}))),
	)
}

// workingDays counts the working days in (from, to].
func (p *Pack) workingDays(from, to time.Time) int64 {
	from, to = day(from), day(to)
	n := int64(0)
	for d := from.AddDate(0, 0, 1); !d.After(to); d = d.AddDate(0, 0, 1) {
		if d.Weekday() != time.Saturday && d.Weekday() != time.Sunday && !p.holidays[d.Format(time.DateOnly)] {
			n++
		}
	}
	return n
}

// WorkingDaysAfter returns the date n working days after from.
func (p *Pack) WorkingDaysAfter(from time.Time, n int) time.Time {
	d := day(from)
	for n > 0 {
		d = d.AddDate(0, 0, 1)
		if d.Weekday() != time.Saturday && d.Weekday() != time.Sunday && !p.holidays[d.Format(time.DateOnly)] {
			n--
		}
	}
	return d
}

func day(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// compile compiles one expression of a rule, wanting the given type.
func (p *Pack) compile(env *cel.Env, ruleID string, line int, part, expr string, want ...*cel.Type) (cel.Program, *cel.Env, error) {
	ast, iss := env.Compile(expr)
	if iss != nil && iss.Err() != nil {
		return nil, nil, &PackError{Rule: ruleID, Line: line, Msg: part + ": " + strings.ReplaceAll(iss.Err().Error(), "\n", " ")}
	}
	ok := len(want) == 0
	for _, w := range want {
		ok = ok || ast.OutputType().IsAssignableType(w)
	}
	if !ok {
		return nil, nil, &PackError{Rule: ruleID, Line: line, Msg: fmt.Sprintf("%s: is %s, want %s", part, ast.OutputType(), want[0])}
	}
	prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, nil, &PackError{Rule: ruleID, Line: line, Msg: part + ": " + err.Error()}
	}
	return prg, env, nil
}

func (p *Pack) compileRequirements(n *yaml.Node) error {
	if n == nil || n.Kind != yaml.SequenceNode {
		return &PackError{Msg: "requirements: a list"}
	}
	for _, r := range n.Content {
		if err := checkKeys(r, "", "id", "name", "any_of", "satisfied_if", "exemptible"); err != nil {
			return err
		}
		var def struct {
			ID          string     `yaml:"id"`
			Name        Bilingual  `yaml:"name"`
			AnyOf       [][]string `yaml:"any_of"`
			SatisfiedIf string     `yaml:"satisfied_if"`
			Exemptible  bool       `yaml:"exemptible"`
		}
		if err := r.Decode(&def); err != nil {
			return &PackError{Line: r.Line, Msg: "requirement: " + err.Error()}
		}
		where := "requirement " + def.ID
		switch {
		case !idPattern.MatchString(def.ID):
			return &PackError{Line: r.Line, Msg: "requirement: id is a name such as security_assessment"}
		case p.requirements[def.ID] != nil:
			return &PackError{Rule: where, Line: r.Line, Msg: "defined twice"}
		case def.Name.En == "" || def.Name.Zh == "":
			return &PackError{Rule: where, Line: r.Line, Msg: "name: give it in English and Chinese"}
		case (len(def.AnyOf) == 0) == (def.SatisfiedIf == ""):
			return &PackError{Rule: where, Line: r.Line, Msg: "say what satisfies it: any_of approval kinds, or satisfied_if"}
		}
		for _, set := range def.AnyOf {
			for _, k := range set {
				if !slices.Contains(ApprovalKinds, k) {
					return &PackError{Rule: where, Line: r.Line, Msg: fmt.Sprintf("any_of: %q is not an approval kind (%s)", k, strings.Join(ApprovalKinds, ", "))}
				}
			}
		}
		req := &requirement{ID: def.ID, Name: def.Name, AnyOf: def.AnyOf, Exemptible: def.Exemptible}
		if def.SatisfiedIf != "" {
			prg, _, err := p.compile(p.env, where, r.Line, "satisfied_if", def.SatisfiedIf, cel.BoolType)
			if err != nil {
				return err
			}
			req.satisfiedIf = prg
		}
		p.requirements[def.ID] = req
		p.reqOrder = append(p.reqOrder, def.ID)
	}
	return nil
}

func (p *Pack) compileRules(n *yaml.Node) error {
	if n == nil || n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		return &PackError{Msg: "rules: a list of rules"}
	}
	env := p.env
	byID := map[string]*rule{}
	type pending struct {
		r    *rule
		node *yaml.Node
	}
	var all []pending
	for _, rn := range n.Content {
		ruleName := ""
		if id := field(rn, "id"); id != nil {
			ruleName = "rule " + id.Value
		}
		if err := checkKeys(rn, ruleName, "id", "when", "outcome", "requires", "requires_expr", "exempts", "derive", "invalidates", "reason", "source"); err != nil {
			return err
		}
		var def struct {
			ID           string    `yaml:"id"`
			When         string    `yaml:"when"`
			Outcome      string    `yaml:"outcome"`
			Requires     []string  `yaml:"requires"`
			RequiresExpr string    `yaml:"requires_expr"`
			Exempts      []string  `yaml:"exempts"`
			Invalidates  string    `yaml:"invalidates"`
			Reason       Bilingual `yaml:"reason"`
			Source       string    `yaml:"source"`
		}
		if err := rn.Decode(&def); err != nil {
			return &PackError{Line: rn.Line, Msg: "rule: " + err.Error()}
		}
		r := &rule{ID: def.ID, Line: rn.Line, Deny: def.Outcome == "deny", Requires: def.Requires, Exempts: def.Exempts,
			Invalidates: def.Invalidates, Reason: def.Reason, Source: def.Source}
		switch {
		case !idPattern.MatchString(def.ID):
			return &PackError{Line: rn.Line, Msg: "rule: id is a name such as R6"}
		case byID[def.ID] != nil:
			return &PackError{Rule: "rule " + def.ID, Line: rn.Line, Msg: "defined twice"}
		case def.Outcome != "" && def.Outcome != "deny":
			return &PackError{Rule: "rule " + def.ID, Line: rn.Line, Msg: "outcome: only deny (requirements make require; nothing makes allow)"}
		case def.Reason.En == "" || def.Reason.Zh == "":
			return &PackError{Rule: "rule " + def.ID, Line: rn.Line, Msg: "reason: give it in English and Chinese"}
		case def.Source == "":
			return &PackError{Rule: "rule " + def.ID, Line: rn.Line, Msg: "source: cite where the rule comes from"}
		case def.Invalidates != "" && !slices.Contains(ApprovalKinds, def.Invalidates):
			return &PackError{Rule: "rule " + def.ID, Line: rn.Line, Msg: fmt.Sprintf("invalidates: %q is not an approval kind", def.Invalidates)}
		case def.Invalidates != "" && (r.Deny || len(def.Requires) > 0 || def.RequiresExpr != "" || len(def.Exempts) > 0):
			return &PackError{Rule: "rule " + def.ID, Line: rn.Line, Msg: "a rule that invalidates approvals does nothing else"}
		}
		for _, req := range def.Requires {
			if p.requirements[req] == nil {
				return &PackError{Rule: "rule " + def.ID, Line: rn.Line, Msg: fmt.Sprintf("requires: no requirement %q", req)}
			}
		}
		// Derived names, each visible to what follows.
		if d := field(rn, "derive"); d != nil {
			if d.Kind != yaml.SequenceNode {
				return &PackError{Rule: "rule " + def.ID, Line: d.Line, Msg: "derive: a list of {name, expr}"}
			}
			for _, dn := range d.Content {
				if err := checkKeys(dn, "rule "+def.ID, "name", "expr"); err != nil {
					return err
				}
				name, expr := field(dn, "name"), field(dn, "expr")
				if name == nil || expr == nil || !derivedName.MatchString(name.Value) {
					return &PackError{Rule: "rule " + def.ID, Line: dn.Line, Msg: "derive: each has a lower-case name and an expr"}
				}
				if slices.Contains(factNames, name.Value) {
					return &PackError{Rule: "rule " + def.ID, Line: dn.Line, Msg: fmt.Sprintf("derive: %q is a fact's name", name.Value)}
				}
				ast, iss := env.Compile(expr.Value)
				if iss != nil && iss.Err() != nil {
					return &PackError{Rule: "rule " + def.ID, Line: expr.Line, Msg: "derive " + name.Value + ": " + strings.ReplaceAll(iss.Err().Error(), "\n", " ")}
				}
				prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize))
				if err != nil {
					return &PackError{Rule: "rule " + def.ID, Line: expr.Line, Msg: "derive " + name.Value + ": " + err.Error()}
				}
				if env, err = env.Extend(cel.Variable(name.Value, ast.OutputType())); err != nil {
					return &PackError{Rule: "rule " + def.ID, Line: expr.Line, Msg: "derive " + name.Value + ": " + err.Error()}
				}
				r.derive = append(r.derive, derivation{Name: name.Value, prg: prg})
			}
		}
		if def.When == "" && len(r.derive) == 0 {
			return &PackError{Rule: "rule " + def.ID, Line: rn.Line, Msg: "when: say when the rule fires"}
		}
		if def.When != "" {
			line := rn.Line
			if w := field(rn, "when"); w != nil {
				line = w.Line
			}
			prg, _, err := p.compile(env, "rule "+def.ID, line, "when", def.When, cel.BoolType)
			if err != nil {
				return err
			}
			r.when = prg
		}
		if def.RequiresExpr != "" {
			prg, _, err := p.compile(env, "rule "+def.ID, rn.Line, "requires_expr", def.RequiresExpr, cel.ListType(cel.StringType), cel.ListType(cel.DynType))
			if err != nil {
				return err
			}
			r.requiresX = prg
		}
		byID[def.ID] = r
		p.ruleIDs = append(p.ruleIDs, def.ID)
		all = append(all, pending{r, rn})
	}
	for _, pr := range all {
		r := pr.r
		for _, ex := range r.Exempts {
			target := byID[ex]
			if target == nil {
				return &PackError{Rule: "rule " + r.ID, Line: pr.node.Line, Msg: fmt.Sprintf("exempts: no rule %q", ex)}
			}
			for _, req := range target.Requires {
				if !p.requirements[req].Exemptible {
					return &PackError{Rule: "rule " + r.ID, Line: pr.node.Line, Msg: fmt.Sprintf("exempts: rule %s requires %s, which no exemption removes", ex, req)}
				}
			}
			if target.Deny {
				return &PackError{Rule: "rule " + r.ID, Line: pr.node.Line, Msg: fmt.Sprintf("exempts: rule %s denies; a denial is never exempted", ex)}
			}
		}
		switch {
		case r.Invalidates != "":
			p.invalidators[r.Invalidates] = append(p.invalidators[r.Invalidates], r)
		case len(r.derive) > 0:
			p.derives = append(p.derives, r)
			if r.Deny || len(r.Requires) > 0 || r.requiresX != nil || len(r.Exempts) > 0 {
				p.rules = append(p.rules, r)
			}
		default:
			p.rules = append(p.rules, r)
		}
	}
	p.env = env
	return nil
}

// Rules lists the pack's rule ids in order.
func (p *Pack) Rules() []string { return slices.Clone(p.ruleIDs) }

// Data is the pack's data, as decoded.
func (p *Pack) Data() map[string]any { return p.data }

// testCase is one of a pack's own cases.
type testCase struct {
	Name      string
	Facts     Facts
	Approvals []Approval
	Today     time.Time
	Expect    struct {
		Outcome   string          `json:"outcome"`
		Fired     []string        `json:"fired"`
		NotFired  []string        `json:"not_fired"`
		Satisfied map[string]bool `json:"satisfied"`
	}
	line int
}

// strictJSON re-reads a YAML node as JSON into v, refusing unknown fields: a test
// case's facts are checked like an API request's.
func strictJSON(n *yaml.Node, v any) error {
	var raw any
	if err := n.Decode(&raw); err != nil {
		return err
	}
	b, err := json.Marshal(normalise(raw))
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func (p *Pack) runTests(n *yaml.Node) error {
	if n == nil || n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		return &PackError{Msg: "tests: a pack carries test cases; none given"}
	}
	for i, tn := range n.Content {
		if err := checkKeys(tn, "", "name", "facts", "approvals", "today", "expect"); err != nil {
			return err
		}
		tc := testCase{line: tn.Line, Today: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)}
		if nm := field(tn, "name"); nm != nil {
			tc.Name = nm.Value
		}
		name := fmt.Sprintf("test %d (%s)", i+1, tc.Name)
		if f := field(tn, "facts"); f == nil {
			return &PackError{Rule: name, Line: tn.Line, Msg: "facts: required"}
		} else if err := strictJSON(f, &tc.Facts); err != nil {
			return &PackError{Rule: name, Line: f.Line, Msg: "facts: " + err.Error()}
		}
		var probs dataport.Problems
		tc.Facts.validate(&probs)
		if len(probs) > 0 {
			return &PackError{Rule: name, Line: tn.Line, Msg: fmt.Sprintf("facts: %s: %s", probs[0].Field, probs[0].Message)}
		}
		if a := field(tn, "approvals"); a != nil {
			if err := strictJSON(a, &tc.Approvals); err != nil {
				return &PackError{Rule: name, Line: a.Line, Msg: "approvals: " + err.Error()}
			}
		}
		if t := field(tn, "today"); t != nil {
			d, err := time.Parse(time.DateOnly, t.Value)
			if err != nil {
				return &PackError{Rule: name, Line: t.Line, Msg: "today: a date, YYYY-MM-DD"}
			}
			tc.Today = d
		}
		e := field(tn, "expect")
		if e == nil {
			return &PackError{Rule: name, Line: tn.Line, Msg: "expect: required"}
		}
		if err := strictJSON(e, &tc.Expect); err != nil {
			return &PackError{Rule: name, Line: e.Line, Msg: "expect: " + err.Error()}
		}
		res, err := p.Evaluate(&tc.Facts, tc.Approvals, tc.Today)
		if err != nil {
			return &PackError{Rule: name, Line: tn.Line, Msg: err.Error()}
		}
		if msg := tc.check(res); msg != "" {
			return &PackError{Rule: name, Line: tn.Line, Msg: "failed: " + msg}
		}
	}
	return nil
}

func (tc *testCase) check(res *Result) string {
	if tc.Expect.Outcome != "" && res.Outcome != tc.Expect.Outcome {
		return fmt.Sprintf("outcome %s, want %s (fired %v)", res.Outcome, tc.Expect.Outcome, res.FiredIDs())
	}
	fired := res.FiredIDs()
	for _, id := range tc.Expect.Fired {
		if !slices.Contains(fired, id) {
			return fmt.Sprintf("%s did not fire (fired %v)", id, fired)
		}
	}
	for _, id := range tc.Expect.NotFired {
		if slices.Contains(fired, id) {
			return fmt.Sprintf("%s fired (fired %v)", id, fired)
		}
	}
	for id, want := range tc.Expect.Satisfied {
		i := slices.IndexFunc(res.Requirements, func(r RequirementResult) bool { return r.ID == id })
		if i < 0 {
			return fmt.Sprintf("no requirement %s (requirements %v)", id, res.RequirementIDs())
		}
		if res.Requirements[i].Satisfied != want {
			return fmt.Sprintf("requirement %s satisfied = %v, want %v", id, res.Requirements[i].Satisfied, want)
		}
	}
	return ""
}
