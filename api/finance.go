package api

import (
	"context"
	"io"
	"mime"
	"net/http"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/dataport/dataport"
	"github.com/dataport/dataport/finance"
)

// Finance, part one: a merchant's shops, its attested order data, its features.
// Who may is the finance service's business (the merchant itself and the
// operator; to others the merchant does not exist): these handlers decode, call
// and encode.

type shopOutput struct {
	Body finance.Shop
}

type connectShopInput struct {
	ID   string `path:"id" doc:"the merchant's participant id"`
	Body finance.NewShop
}

func (s *Server) connectShop(ctx context.Context, in *connectShopInput) (*shopOutput, error) {
	sh, err := s.Finance.ConnectShop(ctx, actorOf(ctx), in.ID, in.Body)
	if err != nil {
		return nil, s.problem(err)
	}
	return &shopOutput{Body: sh}, nil
}

// merchantPath is the {id} of a merchant's routes.
type merchantPath struct {
	ID string `path:"id" doc:"the merchant's participant id"`
}

type shopsOutput struct {
	Body struct {
		Items []finance.Shop `json:"items"`
	}
}

func (s *Server) listShops(ctx context.Context, in *merchantPath) (*shopsOutput, error) {
	shops, err := s.Finance.Shops(ctx, actorOf(ctx), in.ID)
	if err != nil {
		return nil, s.problem(err)
	}
	out := &shopsOutput{}
	out.Body.Items = shops
	return out, nil
}

// orderFormats are the media types that name a batch's format when the query
// does not.
var orderFormats = map[string]string{"text/csv": "csv", "application/x-ndjson": "jsonl"}

// ingestBatchInput takes a batch of order data as the raw request body, streamed
// to the finance service: it is hashed and checked as it arrives, never held
// whole (a batch may be up to a gigabyte).
type ingestBatchInput struct {
	ID          string `path:"id" doc:"the merchant's participant id"`
	Format      string `query:"format" enum:"csv,jsonl" doc:"the batch's format; when absent, Content-Type says it: text/csv or application/x-ndjson"`
	ContentType string `header:"Content-Type"`
	body        io.Reader
}

// Resolve hands the body over unread; huma reads bodies only for inputs declaring one.
func (in *ingestBatchInput) Resolve(ctx huma.Context) []error {
	in.body = ctx.BodyReader()
	return nil
}

// format is the batch's format: the query's, else the one Content-Type names.
// A query and a Content-Type that contradict each other are refused rather than
// guessed between: one of them is a mistake, and a batch read in the wrong
// format would be attested as a batch of rejected rows.
func (in *ingestBatchInput) format() (string, error) {
	const op = "finance.IngestBatch"
	mt, _, _ := mime.ParseMediaType(in.ContentType)
	byType, known := orderFormats[mt]
	switch {
	case in.Format != "" && known && byType != in.Format:
		return "", dataport.Invalid(op, dataport.FieldProblem{Field: "format",
			Message: "format=" + in.Format + " contradicts Content-Type " + mt + ": send one, or both alike"})
	case in.Format != "":
		return in.Format, nil
	case known:
		return byType, nil
	}
	return "", dataport.Invalid(op, dataport.FieldProblem{Field: "format",
		Message: "csv or jsonl: give ?format=, or send Content-Type text/csv or application/x-ndjson"})
}

type batchReportOutput struct {
	Body finance.BatchReport
}

func (s *Server) ingestBatch(ctx context.Context, in *ingestBatchInput) (*batchReportOutput, error) {
	at := map[string]string{"format": "query.format"}
	format, err := in.format()
	if err != nil {
		return nil, s.problemAt(err, at)
	}
	rep, err := s.Finance.IngestBatch(ctx, actorOf(ctx), in.ID, format, in.body)
	if err != nil {
		return nil, s.problemAt(err, at)
	}
	return &batchReportOutput{Body: rep}, nil
}

// orderDataBody documents a batch's raw body. Its size is the finance service's
// business (Options.MaxBatchBytes, answered with 413), as for other streamed bodies.
func orderDataBody(o *huma.Operation) {
	o.MaxBodyBytes = -1
	o.RequestBody = &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
		"text/csv":             {Schema: &huma.Schema{Type: "string", Description: "a header row naming the fields, then one order per row"}},
		"application/x-ndjson": {Schema: &huma.Schema{Type: "string", Description: "one JSON object per line, one order each"}},
	}}
}

// orderStreamBody documents a live stream's raw body, JSON lines for as long as
// the connection stays open, so no size applies; and its answer, which huma
// cannot see in a streamed response.
func orderStreamBody(o *huma.Operation) {
	o.MaxBodyBytes = -1
	o.RequestBody = &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
		"application/x-ndjson": {Schema: &huma.Schema{Type: "string", Description: "one JSON object per line, one order each; blank lines keep the stream open (it is closed after 5 minutes of silence)"}},
	}}
	o.Responses = map[string]*huma.Response{"200": {Description: "The stream is open: the answer follows as it is applied", Content: map[string]*huma.MediaType{
		"application/x-ndjson": {Schema: &huma.Schema{Type: "string", Description: `JSON lines: {"chunk": BatchReport} for each chunk once it is applied and attested, ` +
			`then {"report": StreamReport} when the stream ends, with "error" when it broke off (the lines after the last applied chunk were dropped: send them again)`}},
	}}}
}

type batchesInput struct {
	ID     string `path:"id" doc:"the merchant's participant id"`
	Before string `query:"before" doc:"only batches older than this batch id: the next cursor of the previous page"`
	Limit  int    `query:"limit" minimum:"1" maximum:"1000" default:"100"`
}

type batchesOutput struct {
	Body struct {
		Items []finance.Batch `json:"items"`
		Next  string          `json:"next,omitempty" doc:"pass as before= for the next page; absent on the last page"`
	}
}

func (s *Server) listBatches(ctx context.Context, in *batchesInput) (*batchesOutput, error) {
	bs, err := s.Finance.Batches(ctx, actorOf(ctx), in.ID, in.Before, in.Limit)
	if err != nil {
		return nil, s.problemAt(err, map[string]string{"before": "query.before", "limit": "query.limit"})
	}
	out := &batchesOutput{}
	out.Body.Items = bs
	if len(bs) == in.Limit {
		out.Body.Next = bs[len(bs)-1].ID
	}
	return out, nil
}

type featuresInput struct {
	ID   string    `path:"id" doc:"the merchant's participant id"`
	AsOf time.Time `query:"as_of" doc:"RFC 3339: the moment the windows end at; now when absent"`
}

type featuresOutput struct {
	Body finance.FeatureSet
}

func (s *Server) merchantFeatures(ctx context.Context, in *featuresInput) (*featuresOutput, error) {
	fs, err := s.Finance.Features(ctx, actorOf(ctx), in.ID, in.AsOf)
	if err != nil {
		return nil, s.problemAt(err, map[string]string{"as_of": "query.as_of"})
	}
	return &featuresOutput{Body: fs}, nil
}

type dailyInput struct {
	ID   string    `path:"id" doc:"the merchant's participant id"`
	Days int       `query:"days" default:"30" minimum:"1" maximum:"366" doc:"how many days, up to and including as_of's"`
	AsOf time.Time `query:"as_of" doc:"RFC 3339: the moment the days end at; now when absent"`
}

type dailyOutput struct {
	Body finance.Daily
}

func (s *Server) merchantDaily(ctx context.Context, in *dailyInput) (*dailyOutput, error) {
	d, err := s.Finance.Daily(ctx, actorOf(ctx), in.ID, in.Days, in.AsOf)
	if err != nil {
		return nil, s.problemAt(err, map[string]string{"as_of": "query.as_of", "days": "query.days"})
	}
	return &dailyOutput{Body: d}, nil
}

// streamInput takes a live stream as the raw request body, read as it arrives.
type streamInput struct {
	ID   string `path:"id" doc:"the merchant's participant id"`
	body io.Reader
}

// Resolve hands the body over unread; huma reads bodies only for inputs declaring one.
func (in *streamInput) Resolve(ctx huma.Context) []error {
	in.body = ctx.BodyReader()
	return nil
}

// streamLine is one line of a live stream's answer: a report per applied chunk,
// then the stream's report (with the error that ended it, if one did).
type streamLine struct {
	Chunk  *finance.BatchReport  `json:"chunk,omitempty"`
	Report *finance.StreamReport `json:"report,omitempty"`
	Error  string                `json:"error,omitempty"`
}

// streamIdle is how long a live stream may stay silent before the exchange closes
// it; a blank line keeps it open.
const streamIdle = 5 * time.Minute

// streamOrders takes a live stream of order data and answers, on the same
// connection while the stream is still being sent, with a JSON line per applied
// chunk and, when the stream ends, the stream's report.
func (s *Server) streamOrders(ctx context.Context, in *streamInput) (*huma.StreamResponse, error) {
	actor := actorOf(ctx)
	// Refuse with a problem while a status can still say so: once the stream is
	// open the answer is 200, and IngestStream's own refusal would arrive as the
	// last line.
	if err := s.Finance.MaySend(ctx, actor, in.ID); err != nil {
		return nil, s.problem(err)
	}
	var rc *http.ResponseController
	lines := jsonLines(func(ctx context.Context, send func(any)) {
		rc.Flush() // the 200 goes out now: the sender knows the stream is open before its first chunk is applied
		body := &idleDeadline{r: in.body, rc: rc}
		rep, err := s.Finance.IngestStream(ctx, actor, in.ID, body, func(c finance.BatchReport) { send(streamLine{Chunk: &c}) })
		body.stop()
		l := streamLine{Report: &rep}
		if err != nil {
			l.Error = dataport.MessageOf(err)
		}
		send(l)
	})
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		_, w := humago.Unwrap(hctx)
		rc = http.NewResponseController(w)
		// Go's HTTP/1 server stops reading a request's body once the answer
		// starts; a stream's answer goes out while its body still arrives.
		// (HTTP/2 is full duplex as it is, and says ErrNotSupported here.)
		rc.EnableFullDuplex()
		lines.Body(hctx)
	}}, nil
}

// idleDeadline moves the connection's read deadline on at every read: a live
// stream outlives the server's ReadTimeout, which bounds a whole request, while
// one that falls silent for streamIdle is still closed.
type idleDeadline struct {
	r    io.Reader
	rc   *http.ResponseController
	mu   sync.Mutex
	done bool // the handler is returning: its controller may no longer be used
}

func (d *idleDeadline) Read(p []byte) (int, error) {
	d.mu.Lock()
	if !d.done {
		d.rc.SetReadDeadline(time.Now().Add(streamIdle))
	}
	d.mu.Unlock()
	return d.r.Read(p)
}

// stop ends the deadline's moves: IngestStream's reader may call Read once more
// after it returned, until the server closes the body.
func (d *idleDeadline) stop() {
	d.mu.Lock()
	d.done = true
	d.mu.Unlock()
}
