package lending

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"
	"github.com/dataport/dataport"
)

// Rule is one of an institution's decision rules: a CEL condition an application
// must meet to be approved. When it does not hold, Reason is the reason given.
type Rule struct {
	ID     string `json:"id" pattern:"^[a-z][a-z0-9_]{0,63}$" doc:"unique within the subscription"`
	Expr   string `json:"expr" minLength:"1" maxLength:"2000" doc:"CEL over the decision variables; true: the application passes this rule"`
	Reason string `json:"reason" minLength:"1" maxLength:"500" doc:"why the application was declined when the rule does not hold"`
}

// RuleResult is what one rule made of an application.
type RuleResult struct {
	ID     string `json:"id"`
	Expr   string `json:"expr"`
	Reason string `json:"reason"`
	Passed bool   `json:"passed"`
	Error  string `json:"error,omitempty" doc:"why the rule could not be evaluated (it then fails)"`
}

// Inputs are the variables the rules see: the application, the offer's credit
// decision and the merchant's standing with the institution. Their canonical JSON's
// SHA-256 is filed with the decision.
type Inputs struct {
	OfferID      string             `json:"offer_id"`
	DecisionID   string             `json:"decision_id"`
	Grade        string             `json:"grade"`
	Score        int64              `json:"score"`
	PD           float64            `json:"pd"`
	Line         int64              `json:"line" doc:"minor units"`
	Amount       int64              `json:"amount" doc:"minor units"`
	Currency     string             `json:"currency"`
	Product      string             `json:"product"`
	TermDays     int64              `json:"term_days"`
	Sector       string             `json:"sector"`
	Outstanding  int64              `json:"outstanding" doc:"the merchant's outstanding with this institution before this application, minor units"`
	OverdueLoans int64              `json:"overdue_loans" doc:"the merchant's overdue loans with this institution"`
	Features     map[string]float64 `json:"features" doc:"empty unless the consent's scope includes features"`
}

const (
	maxRules     = 50
	maxRuleExpr  = 2000
	maxRuleCost  = 100_000 // CEL cost units: ample for comparisons, a bound for loops over features
	maxRuleIDLen = 64
)

var ruleID = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// ruleEnv declares the variables rules may use (see the package documentation).
var ruleEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		ext.Strings(), ext.Sets(), ext.Math(),
		// pd <= 0.05 and score >= 600 read alike whether a literal is written as an
		// int or a double.
		cel.CrossTypeNumericComparisons(true),
		cel.Variable("grade", cel.StringType),
		cel.Variable("score", cel.IntType),
		cel.Variable("pd", cel.DoubleType),
		cel.Variable("line", cel.IntType),
		cel.Variable("amount", cel.IntType),
		cel.Variable("currency", cel.StringType),
		cel.Variable("product", cel.StringType),
		cel.Variable("term_days", cel.IntType),
		cel.Variable("sector", cel.StringType),
		cel.Variable("outstanding", cel.IntType),
		cel.Variable("overdue_loans", cel.IntType),
		cel.Variable("features", cel.MapType(cel.StringType, cel.DoubleType)),
	)
})

// ruleSet is a subscription's rules, compiled.
type ruleSet struct {
	rules []Rule
	prgs  []cel.Program
}

// checkRules checks rules as written and compiles them; problems name the field of
// each wrong one, under prefix ("rules").
func checkRules(prefix string, rules []Rule, p *dataport.Problems) *ruleSet {
	env, err := ruleEnv()
	if err != nil {
		panic(err) // the declarations above are fixed
	}
	if len(rules) > maxRules {
		p.Add(prefix, "at most %d rules", maxRules)
		return nil
	}
	rs := &ruleSet{rules: rules}
	ok := true
	for i := range rules {
		r := &rules[i]
		r.ID, r.Expr, r.Reason = strings.TrimSpace(r.ID), strings.TrimSpace(r.Expr), strings.TrimSpace(r.Reason)
		field := fmt.Sprintf("%s[%d]", prefix, i)
		if !ruleID.MatchString(r.ID) {
			p.Add(field+".id", "lower-case letters, digits and _, starting with a letter, at most %d", maxRuleIDLen)
			ok = false
		} else {
			for j := range i {
				if rules[j].ID == r.ID {
					p.Add(field+".id", "%q is the id of rules[%d] too", r.ID, j)
					ok = false
				}
			}
		}
		if r.Reason == "" || utf8.RuneCountInString(r.Reason) > 500 || !utf8.ValidString(r.Reason) {
			p.Add(field+".reason", "1 to 500 characters: the reason given when the rule does not hold")
			ok = false
		}
		if r.Expr == "" || len(r.Expr) > maxRuleExpr || !utf8.ValidString(r.Expr) {
			p.Add(field+".expr", "a CEL condition of 1 to %d bytes", maxRuleExpr)
			ok = false
			continue
		}
		ast, iss := env.Compile(r.Expr)
		if iss != nil && iss.Err() != nil {
			p.Add(field+".expr", "%s", strings.ReplaceAll(iss.Err().Error(), "\n", " "))
			ok = false
			continue
		}
		if !ast.OutputType().IsExactType(cel.BoolType) {
			p.Add(field+".expr", "is %s, want bool: a condition the application meets", ast.OutputType())
			ok = false
			continue
		}
		prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize), cel.CostLimit(maxRuleCost))
		if err != nil {
			p.Add(field+".expr", "%s", err)
			ok = false
			continue
		}
		rs.prgs = append(rs.prgs, prg)
	}
	if !ok {
		return nil
	}
	return rs
}

// evaluate runs every rule on in, in order. A rule that errs (a feature not in the
// map, the cost limit) fails: a rule that cannot say yes is a no.
func (rs *ruleSet) evaluate(in *Inputs) (results []RuleResult, passed bool) {
	act := &activation{in: in}
	results = make([]RuleResult, len(rs.rules))
	passed = true
	for i, r := range rs.rules {
		res := RuleResult{ID: r.ID, Expr: r.Expr, Reason: r.Reason}
		out, _, err := rs.prgs[i].Eval(act)
		switch b, isBool := out.(types.Bool); {
		case err != nil:
			res.Error = err.Error()
		case !isBool:
			res.Error = fmt.Sprintf("is %v, not a bool", out.Type())
		default:
			res.Passed = bool(b)
		}
		passed = passed && res.Passed
		results[i] = res
	}
	return results, passed
}

// activation resolves the rules' variables from Inputs without building a map per
// evaluation.
type activation struct{ in *Inputs }

func (a *activation) ResolveName(name string) (any, bool) {
	in := a.in
	switch name {
	case "grade":
		return in.Grade, true
	case "score":
		return in.Score, true
	case "pd":
		return in.PD, true
	case "line":
		return in.Line, true
	case "amount":
		return in.Amount, true
	case "currency":
		return in.Currency, true
	case "product":
		return in.Product, true
	case "term_days":
		return in.TermDays, true
	case "sector":
		return in.Sector, true
	case "outstanding":
		return in.Outstanding, true
	case "overdue_loans":
		return in.OverdueLoans, true
	case "features":
		return in.Features, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

// rules returns the compiled rules of a subscription's rules version, compiling
// them once per process.
func (s *Service) rules(subscriptionID string, version int64, rules []Rule) (*ruleSet, error) {
	key := ruleSetKey{subscriptionID, version}
	s.mu.Lock()
	rs := s.compiled[key]
	s.mu.Unlock()
	if rs != nil {
		return rs, nil
	}
	var p dataport.Problems
	if rs = checkRules("rules", rules, &p); rs == nil {
		// Stored rules compiled when they were set; they fail now only if the
		// environment changed under them.
		return nil, fmt.Errorf("subscription %s rules v%d no longer compile: %v", subscriptionID, version, p)
	}
	s.mu.Lock()
	s.compiled[key] = rs
	s.mu.Unlock()
	return rs, nil
}
