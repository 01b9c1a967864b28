package api_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/dataport/dataport"
	"github.com/dataport/dataport/notify"
	"github.com/dataport/dataport/registry"
)

// side is whose records a call names: the caller's own tenant's, another tenant's,
// or (the caller being suspended) its own suspended tenant's.
type side string

const (
	anonymous side = "anonymous"
	ownSide   side = "own"
	otherSide side = "other"
	suspended side = "suspended"
)

// call is one request of the matrix: a caller of a role on a tenant's records.
type call struct {
	x      *authzExchange
	g      *tenant // whose records the path names
	role   dataport.Role
	caller *party // nil: anonymous
	side   side
	op     *huma.Operation // the route's operation; nil for a plain route
	// allowed: the row expects the call to be allowed. A call that is to be
	// refused changes nothing, so it may share the record it names with the row's
	// other refusals (made once, by once); an allowed one gets a record of its own.
	allowed bool
	row     *authzRow
}

// once makes a record for the call: a new one for an allowed call, and for the
// refused ones one per row, tenant and kind, shared.
func (c *call) once(kind string, make func() string) string {
	if c.allowed {
		return make()
	}
	key := c.row.op + " " + c.g.name + " " + kind
	if id, ok := c.x.shared[key]; ok {
		return id
	}
	id := make()
	c.x.shared[key] = id
	return id
}

// sampled is the operation's sample body (sample) with fields set over it.
func (c *call) sampled(fields map[string]any) map[string]any {
	m, _ := sample(c.x.server.OpenAPI().Components.Schemas, c.op.RequestBody.Content["application/json"].Schema, 0).(map[string]any)
	var over func(dst, src map[string]any)
	over = func(dst, src map[string]any) {
		for k, v := range src {
			if sub, ok := v.(map[string]any); ok {
				if d, ok := dst[k].(map[string]any); ok {
					over(d, sub)
					continue
				}
			}
			dst[k] = v
		}
	}
	over(m, fields)
	return m
}

// arg fills one {parameter} of a route's path for a call.
type arg func(c *call) string

// self is the participant of the caller's role in the tenant: the caller itself on
// its own side.
func self(c *call) string { return c.g.of(c.role).id }

// member is the tenant's participant of role r.
func member(r dataport.Role) arg { return func(c *call) string { return c.g.of(r).id } }

// product is the tenant's listed product. A suspended tenant's products are
// suspended with their supplier (README: suspension); a suspended participant
// other than the supplier reads an active tenant's listed product instead.
func product(c *call) string {
	if c.side == suspended && c.role != dataport.RoleSupplier {
		return c.x.own.product.ID
	}
	return c.g.product.ID
}
func revision(c *call) string  { return fmt.Sprint(c.g.product.ListedRevision) }
func demand(c *call) string    { return c.g.demand }
func quote(c *call) string     { return c.g.quote }
func deal(c *call) string      { return c.g.deal }
func finalDeal(c *call) string { return c.g.finalDeal }
func doneDeal(c *call) string  { return c.g.doneDeal }

// dealIn is a new deal of the tenant in state, for a move from it (the suspended
// tenant's parties can make none: its requested deal is used).
func dealIn(state string) arg {
	return func(c *call) string {
		if c.side == suspended {
			return c.g.deal
		}
		return c.once("deal "+state, func() string { return c.x.dealIn(c.g, state) })
	}
}
func upload(c *call) string       { return c.g.upload }
func consent(c *call) string      { return c.g.consent }
func subscription(c *call) string { return c.g.subscription }
func filing(c *call) string       { return fmt.Sprint(c.g.filing) }
func attachment(c *call) string   { return c.x.reportSHA256 }
func packVersion(c *call) string  { return c.x.packVersion }

// webhook is a webhook of the caller's role's participant in the tenant (the
// operator has none of its own: it is given the buyer's).
func webhook(c *call) string {
	if h := c.g.of(c.role).webhook; h != "" {
		return h
	}
	return c.g.of(dataport.RoleBuyer).webhook
}

// missing names a record that does not exist: for endpoints whose records the
// matrix does not build, it still tells an authorised caller (404) from a refused
// one (401, 403, or 404 where the service hides existence).
func missing(prefix string) arg {
	return func(*call) string { return prefix + "_01jzzzzzzzzzzzzzzzzzzzzzzz" }
}

func fixed(s string) arg { return func(*call) string { return s } }

// The fresh… arguments make a new record for each call, so that an allowed change
// (a revocation, a suspension) never touches what later rows use.

// selfOrFresh is self, but for the operator a new participant: the operator's
// changes to a participant are made to one made for the call, never to itself.
func selfOrFresh(c *call) string {
	if c.role == dataport.RoleOperator {
		return c.x.participant(dataport.RoleBuyer).id
	}
	return self(c)
}

func freshAPIKey(c *call) string {
	k, _, err := c.x.reg.IssueKey(c.x.ctx, self(c), registry.NewAPIKey{Name: "fresh", Roles: []dataport.Role{c.role}})
	must(c.x.t, err)
	return k.ID
}

func freshSigningKey(c *call) string {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	k, err := c.x.reg.AddSigningKey(c.x.ctx, c.x.operatorActor, self(c), registry.NewSigningKey{Name: "fresh",
		PublicKey: base64.StdEncoding.EncodeToString(pub)})
	if err != nil { // a suspended participant's: its existing key will do
		ks, err := c.x.reg.ListSigningKeys(c.x.ctx, c.x.operatorActor, self(c))
		must(c.x.t, err)
		return ks[0].ID
	}
	return k.ID
}

func freshS3Key(c *call) string {
	k, _, err := c.x.s3keys.Create(c.x.ctx, c.x.operatorActor, self(c), "fresh")
	if err != nil {
		return "s3k_01jzzzzzzzzzzzzzzzzzzzzzzz"
	}
	return k.ID
}

func freshWebhook(c *call) string {
	owner := c.g.of(c.role)
	if owner.webhook == "" {
		owner = c.g.of(dataport.RoleBuyer)
	}
	if c.side == suspended {
		return owner.webhook
	}
	h, err := c.x.notify.Register(c.x.ctx, owner.actor, notify.NewWebhook{URL: "https://hooks.example.com/fresh/" + owner.id})
	must(c.x.t, err)
	return h.ID
}

// freshProduct is a new listed product of the tenant's supplier (the suspended
// tenant's supplier can make none: its product is used).
func freshProduct(c *call) string {
	if c.side == suspended {
		return c.g.product.ID
	}
	return c.once("listed product", func() string { return c.x.listedProduct(c.g.of(dataport.RoleSupplier)).ID })
}

// draftProduct is a new draft of the tenant's supplier, for the steps before listing.
func draftProduct(c *call) string {
	if c.side == suspended {
		return c.g.product.ID
	}
	return c.once("draft product", func() string { return c.x.draft(c.g.of(dataport.RoleSupplier)).ID })
}

// send makes the call: the row's path filled, its body (or one made from the
// operation's schema) and the headers the operation requires.
func (c *call) send(row *authzRow, rt route, op *huma.Operation) response {
	c.x.t.Helper()
	c.op, c.row = op, row
	path := strings.TrimSuffix(rt.path, "{$}")
	for _, a := range row.args {
		i := strings.IndexByte(path, '{')
		j := strings.IndexByte(path, '}')
		if i < 0 || j < i {
			c.x.t.Fatalf("%s: more arguments than the path %s has parameters", row.op, rt.path)
		}
		path = path[:i] + a(c) + path[j+1:]
	}
	if strings.Contains(path, "{") {
		c.x.t.Fatalf("%s: the path %s has parameters the row does not fill", row.op, rt.path)
	}
	if row.query != nil {
		path += "?" + row.query(c)
	}
	headers := append([]string{"Idempotency-Key", dataport.NewID("idem")}, row.headers...)
	var body io.Reader
	contentType := ""
	switch {
	case row.body != nil:
		b, err := json.Marshal(row.body(c))
		must(c.x.t, err)
		body, contentType = bytes.NewReader(b), "application/json"
	case row.raw != "":
		body, contentType = strings.NewReader(row.raw), row.rawType
	case row.rawBody != nil:
		body, contentType = strings.NewReader(row.rawBody(c)), row.rawType
	case op != nil && op.RequestBody != nil:
		for ct, mt := range op.RequestBody.Content {
			if ct == "application/json" {
				b, err := json.Marshal(sample(c.x.server.OpenAPI().Components.Schemas, mt.Schema, 0))
				must(c.x.t, err)
				body, contentType = bytes.NewReader(b), ct
				break
			}
		}
		if body == nil {
			body, contentType = strings.NewReader("x"), "application/octet-stream"
		}
	}
	key := ""
	if c.caller != nil {
		key = c.caller.key
	}
	return c.x.send(rt.method, path, key, contentType, body, headers...)
}

// sample is a value that the schema takes, as small as it allows: the required
// fields only, the least lengths and counts, the first of an enumeration. It is made
// to get past the request's validation to the authorisation behind it.
func sample(reg huma.Registry, s *huma.Schema, depth int) any {
	if s == nil || depth > 12 {
		return nil
	}
	if s.Ref != "" {
		s = reg.SchemaFromRef(s.Ref)
	}
	switch {
	case len(s.OneOf) > 0:
		return sample(reg, s.OneOf[0], depth+1)
	case len(s.AnyOf) > 0:
		return sample(reg, s.AnyOf[0], depth+1)
	case len(s.Enum) > 0:
		return s.Enum[0]
	}
	switch s.Type {
	case "object":
		m := map[string]any{}
		for _, k := range s.Required {
			switch k {
			case "currency":
				m[k] = "CNY"
			case "url", "address":
				m[k] = "https://peer.example/dsp"
			default:
				m[k] = sample(reg, s.Properties[k], depth+1)
			}
		}
		return m
	case "array":
		a := []any{}
		if s.MinItems != nil {
			for range *s.MinItems {
				a = append(a, sample(reg, s.Items, depth+1))
			}
		}
		return a
	case "string":
		switch {
		case s.Format == "date-time":
			return time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339)
		case s.Format == "date":
			return time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.DateOnly)
		case s.Pattern == "^[A-Z]{3}$":
			return "CNY"
		case s.Pattern == "^[0-9a-f]{64}$":
			return strings.Repeat("0", 64)
		case s.MinLength != nil && *s.MinLength > 1:
			return strings.Repeat("x", *s.MinLength)
		}
		return "x"
	case "integer", "number":
		n := 1.0
		if s.Minimum != nil && *s.Minimum > n {
			n = *s.Minimum
		}
		if s.Maximum != nil && *s.Maximum < n {
			n = *s.Maximum
		}
		return n
	case "boolean":
		return false
	}
	return nil
}

// refused reports whether a status is the API's refusal of the caller: 401 or 403,
// or 404 as services answer to hide that a record exists from those who may not
// see it.
func refused(status int) bool {
	return slices.Contains([]int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound}, status)
}
