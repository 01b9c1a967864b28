package web

import (
	"strings"

	"github.com/dataport/dataport"
)

// navItem is an entry of the header's navigation. A page for some roles adds its
// entry here with them; an entry without roles is everyone's.
type navItem struct {
	Path  string
	Label string // message key
	Roles []dataport.Role
	Under []string // other paths whose pages belong to the entry (a product page to the catalog)
}

var navigation = []navItem{
	{Path: "/catalog", Label: "nav.catalog", Under: []string{"/products/"}},
	{Path: "/supplier", Label: "nav.supplier", Roles: []dataport.Role{dataport.RoleSupplier, dataport.RoleAgent}},
	{Path: "/demands", Label: "nav.demands", Roles: []dataport.Role{dataport.RoleBuyer, dataport.RoleSupplier, dataport.RoleAgent}},
	{Path: "/deals", Label: "nav.deals", Roles: []dataport.Role{dataport.RoleBuyer, dataport.RoleSupplier, dataport.RoleAgent}},
	{Path: "/operator", Label: "nav.operator", Roles: []dataport.Role{dataport.RoleOperator}},
	{Path: "/regulator", Label: "nav.regulator", Roles: []dataport.Role{dataport.RoleRegulator, dataport.RoleOperator}},
	{Path: "/merchant", Label: "nav.merchant", Roles: []dataport.Role{dataport.RoleMerchant}},
	{Path: "/institution", Label: "nav.institution", Roles: []dataport.Role{dataport.RoleFinancialInstitution}},
	{Path: "/keys", Label: "nav.keys"},
}

// navLink is an entry as one page shows it.
type navLink struct {
	Path    string
	Label   string
	Current bool
}

// navFor returns the entries the actor's roles open, the one holding path marked.
func navFor(actor dataport.Actor, path string) []navLink {
	if actor.Anonymous() {
		return nil
	}
	var out []navLink
	for _, it := range navigation {
		if len(it.Roles) > 0 && !actor.Has(it.Roles...) {
			continue
		}
		current := path == it.Path || strings.HasPrefix(path, it.Path+"/")
		for _, u := range it.Under {
			current = current || strings.HasPrefix(path, u)
		}
		out = append(out, navLink{Path: it.Path, Label: it.Label, Current: current})
	}
	return out
}
