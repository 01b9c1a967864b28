package web

import (
	"net/url"
	"slices"
	"strings"

	"github.com/dataport/dataport"
)

// Forms answer bad input inline: the form comes back with what was typed, each
// problem next to its input, HTTP 422 (htmx swaps the form in place), and nothing
// changed — the services refuse invalid input before they change anything, and a
// page calls them once. A page's handler:
//
//	f := q.Form()                              // what was typed
//	_, err := c.deps.Catalog.Revise(…)          // the service decides
//	if f.Absorb(err, q.Localizer, fields) {     // its field problems, by input
//		return q.Render(http.StatusUnprocessableEntity, "page", data{Form: f})
//	}
//
// and its template shows {{template "problems" (problemsOf .Data.Form "name")}} under
// each input (see templates/partials.html).

// Form is a form as submitted: its values, and the problems found with them, by
// the name of the input that shows them.
type Form struct {
	Values   url.Values
	problems map[string][]string
	// General are the problems no input shows: the form shows them at its top.
	General []string
}

// NewForm returns a form holding values.
func NewForm(values url.Values) *Form {
	if values == nil {
		values = url.Values{}
	}
	return &Form{Values: values}
}

// Get returns what was typed into an input.
func (f *Form) Get(name string) string { return strings.TrimSpace(f.Values.Get(name)) }

// Has reports whether an input of several values (checkboxes, a multiple select)
// was submitted with value, so that the form comes back as it was sent.
func (f *Form) Has(name, value string) bool { return slices.Contains(f.Values[name], value) }

// Problems returns the problems shown at an input.
func (f *Form) Problems(input string) []string { return f.problems[input] }

// Invalid reports whether the form has any problem.
func (f *Form) Invalid() bool { return len(f.problems) > 0 || len(f.General) > 0 }

// Fail records a problem at an input, in words already in the page's language
// ("" for input: a problem of the whole form).
func (f *Form) Fail(input, message string) {
	if input == "" {
		f.General = append(f.General, message)
		return
	}
	if f.problems == nil {
		f.problems = map[string][]string{}
	}
	f.problems[input] = append(f.problems[input], message)
}

// Field binds a service's input field to the form input that shows its problems.
// Message is the key of the words to show; empty shows the service's own words
// (the services explain field problems in English).
type Field struct {
	Input   string
	Message string
}

// Fields maps a service's field names — dataport.FieldProblem.Field, JSON names,
// dotted and indexed ("details.price_plans[0].price.amount") — to form inputs. A
// name also binds the fields under it: "price_plans" takes "price_plans[2].kind".
type Fields map[string]Field

// Absorb takes a service's error into the form when it is bad input
// (dataport.KindInvalid): each field problem goes to the input its field is bound
// to, the others to the top of the form. It reports whether it did; any other
// error is the caller's to return.
func (f *Form) Absorb(err error, l *Localizer, fields Fields) bool {
	if err == nil || dataport.KindOf(err) != dataport.KindInvalid {
		return false
	}
	problems := dataport.FieldsOf(err)
	if len(problems) == 0 {
		f.Fail("", dataport.MessageOf(err))
	}
	for _, p := range problems {
		bound, ok := fields.lookup(p.Field)
		switch {
		case !ok:
			f.Fail("", p.Field+": "+p.Message)
		case bound.Message != "":
			f.Fail(bound.Input, l.T(bound.Message))
		default:
			f.Fail(bound.Input, p.Message)
		}
	}
	return true
}

// lookup finds the binding of a field: its own, or that of the nearest field it
// lies under.
func (fs Fields) lookup(field string) (Field, bool) {
	for name := field; name != ""; {
		if b, ok := fs[name]; ok {
			return b, true
		}
		i := strings.LastIndexAny(name, ".[")
		if i < 0 {
			break
		}
		name = name[:i]
	}
	return Field{}, false
}

// inputProblems is what the "problems" template shows under an input.
type inputProblems struct {
	Input    string
	Messages []string
}

// problemsOf is the template function that hands an input's problems to the
// "problems" template; a nil form has none.
func problemsOf(f *Form, input string) inputProblems {
	if f == nil {
		return inputProblems{Input: input}
	}
	return inputProblems{Input: input, Messages: f.Problems(input)}
}
