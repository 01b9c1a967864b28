package web

import (
	"net/http"
	"strconv"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/harvest"
	"github.com/dataport/dataport/mirror"
	"github.com/dataport/dataport/registry"
)

// Harvest sources and mirror upstreams: the platforms whose catalogs the exchange
// lists (through their domestic agent when foreign, R22, with the platform's
// compliance assessment and use scenarios declared for every product, R20), each
// run's report, and the domestic mirror's upstreams with the cache's usage.
// "Run now" and "sync now" run while the page waits and show their report.

// opHarvestPage is the data of the operator's "harvest" page.
type opHarvestPage struct {
	Sources   []opSourceView
	Form      *Form
	Kinds     []string
	Suppliers []registry.Participant
	Agents    []registry.Participant
	Report    *harvest.Report // the run just made
	Done      string
	Refused   string
	Names     func(string) string
}

type opSourceView struct {
	Source harvest.Source
	Runs   []harvest.Report
}

func (c *Console) operatorHarvest(q *Request) error {
	return c.opHarvestPage(q, http.StatusOK, NewForm(nil), nil, "")
}

func (c *Console) opHarvestPage(q *Request, status int, form *Form, report *harvest.Report, refusedWhy string) error {
	ctx, actor := q.Context(), q.Actor
	d := opHarvestPage{Form: form, Report: report, Refused: refusedWhy, Names: c.participantNames(q),
		Kinds: []string{harvest.KindFeed, harvest.KindCKAN, harvest.KindDCAT, harvest.KindAWSOpenData}}
	sources, err := c.deps.Harvest.Sources(ctx, actor)
	if err != nil {
		return err
	}
	for _, s := range sources {
		runs, err := c.deps.Harvest.Runs(ctx, actor, s.ID, 5)
		if err != nil {
			return err
		}
		d.Sources = append(d.Sources, opSourceView{Source: s, Runs: runs})
	}
	if d.Suppliers, _, err = c.deps.Registry.ListParticipants(ctx, actor, registry.ListFilter{Role: dataport.RoleSupplier, Status: registry.Active, Limit: 500}); err != nil {
		return err
	}
	if d.Agents, _, err = c.deps.Registry.ListParticipants(ctx, actor, registry.ListFilter{Role: dataport.RoleAgent, Status: registry.Active, Limit: 500}); err != nil {
		return err
	}
	return opRender(q, status, "harvest", d)
}

// opSourceFields binds the harvest's field problems to the source form.
var opSourceFields = Fields{
	"name": {Input: "name"}, "kind": {Input: "kind"}, "location": {Input: "location"}, "supplier_id": {Input: "supplier_id"},
	"agent_id": {Input: "agent_id"}, "every_seconds": {Input: "every"}, "settings.scenarios": {Input: "scenarios"},
	"settings.compliance_report": {Input: "compliance_report"}, "settings.category": {Input: "category"},
	"settings": {Input: ""},
}

func (c *Console) operatorAddSource(q *Request) error {
	f := q.Form()
	every := int64(0)
	if s := f.Get("every"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			f.Fail("every", q.T("operator.harvest.error.every"))
			return c.opHarvestPage(q, http.StatusUnprocessableEntity, f, nil, "")
		}
		every = n
	}
	n := harvest.NewSource{Name: f.Get("name"), Kind: f.Get("kind"), Location: f.Get("location"), SupplierID: f.Get("supplier_id"),
		AgentID: f.Get("agent_id"), EverySeconds: every,
		Settings: harvest.Settings{Category: f.Get("category"), Scenarios: opFormLines(f.Get("scenarios")), ComplianceReport: f.Get("compliance_report")}}
	if format := f.Get("format"); format != "" {
		n.Settings.Options = map[string]string{"format": format}
	}
	_, err := c.deps.Harvest.AddSource(q.Context(), q.Actor, n)
	if f.Absorb(err, q.Localizer, opSourceFields) {
		return c.opHarvestPage(q, http.StatusUnprocessableEntity, f, nil, "")
	}
	if st, ok := opRefused(err); ok {
		return c.opHarvestPage(q, st, f, nil, dataport.MessageOf(err))
	}
	if err != nil {
		return err
	}
	q.Redirect("/operator/harvest")
	return nil
}

// operatorRunSource harvests a source now and shows its report. A source that
// cannot be read is a failed run with its error, not an error of the page.
func (c *Console) operatorRunSource(q *Request) error {
	rep, err := c.deps.Harvest.Run(q.Context(), q.Actor, q.PathValue("id"), nil)
	if st, ok := opRefused(err); ok {
		return c.opHarvestPage(q, st, NewForm(nil), nil, dataport.MessageOf(err))
	}
	if err != nil {
		return err
	}
	return c.opHarvestPage(q, http.StatusOK, NewForm(nil), &rep, "")
}

// opMirrorPage is the data of the operator's "mirror" page.
type opMirrorPage struct {
	Upstreams []mirror.UpstreamInfo
	Usage     opUsage
	Form      *Form
	Synced    string
	Report    *mirror.SyncReport
	Refused   string
	Done      string
}

func (c *Console) operatorMirror(q *Request) error {
	d := opMirrorPage{Form: NewForm(nil)}
	if done := q.URL.Query().Get("done"); done == "registered" || done == "removed" {
		d.Done = done
	}
	return c.opMirrorPage(q, http.StatusOK, d)
}

func (c *Console) opMirrorPage(q *Request, status int, d opMirrorPage) error {
	var err error
	if d.Upstreams, err = c.deps.Mirror.Upstreams(q.Context(), q.Actor); err != nil {
		return err
	}
	d.Usage = opUsageOf(c.deps.Mirror.Cache().Usage())
	if d.Form == nil {
		d.Form = NewForm(nil)
	}
	return opRender(q, status, "mirror", d)
}

// opUpstreamFields binds the mirror's field problems to the upstream form.
var opUpstreamFields = Fields{
	"name": {Input: "name"}, "arn": {Input: "arn"}, "endpoint": {Input: "endpoint"}, "bucket": {Input: "bucket"},
	"region": {Input: "region"}, "prefix": {Input: "prefix"}, "access_key": {Input: "access_key"}, "secret_key": {Input: "secret_key"},
}

func (c *Console) operatorRegisterUpstream(q *Request) error {
	f := q.Form()
	n := mirror.NewUpstream{Name: f.Get("name"), ARN: f.Get("arn"), Endpoint: f.Get("endpoint"), Secure: f.Get("secure") == "on",
		Bucket: f.Get("bucket"), Region: f.Get("region"), Prefix: f.Get("prefix"), AccessKey: f.Get("access_key"), SecretKey: f.Get("secret_key")}
	_, err := c.deps.Mirror.Register(q.Context(), q.Actor, n)
	f.Values.Del("secret_key") // never shown back
	if f.Absorb(err, q.Localizer, opUpstreamFields) {
		return c.opMirrorPage(q, http.StatusUnprocessableEntity, opMirrorPage{Form: f})
	}
	if st, ok := opRefused(err); ok {
		return c.opMirrorPage(q, st, opMirrorPage{Form: f, Refused: dataport.MessageOf(err)})
	}
	if err != nil {
		return err
	}
	q.Redirect("/operator/mirror?done=registered")
	return nil
}

// operatorSyncUpstream prefetches the upstream's objects (under a prefix, when
// given) into the cache and shows what it did.
func (c *Console) operatorSyncUpstream(q *Request) error {
	name := q.PathValue("name")
	rep, err := c.deps.Mirror.Sync(q.Context(), q.Actor, name, q.Form().Get("prefix"), mirror.SyncOptions{})
	if st, ok := opRefused(err); ok || dataport.KindOf(err) == dataport.KindTooLarge || dataport.KindOf(err) == dataport.KindUnavailable {
		if !ok {
			st = http.StatusUnprocessableEntity
		}
		return c.opMirrorPage(q, st, opMirrorPage{Refused: dataport.MessageOf(err), Synced: name})
	}
	if err != nil {
		return err
	}
	return c.opMirrorPage(q, http.StatusOK, opMirrorPage{Synced: name, Report: &rep})
}

func (c *Console) operatorRemoveUpstream(q *Request) error {
	_, err := c.deps.Mirror.Remove(q.Context(), q.Actor, q.PathValue("name"))
	if st, ok := opRefused(err); ok {
		return c.opMirrorPage(q, st, opMirrorPage{Refused: dataport.MessageOf(err)})
	}
	if err != nil {
		return err
	}
	q.Redirect("/operator/mirror?done=removed")
	return nil
}
