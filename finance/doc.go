// Package finance is the financing side of the exchange, part one: an e-commerce
// merchant (role merchant) connects its shops and sends their order data; every
// batch is hashed and its hash filed — the data attestation that proves later
// that a score was computed on exactly this data — and the orders are folded into
// daily aggregates from which the credit features are computed.
//
// Who may: the merchant itself, acting in its merchant role, and the exchange
// operator. To anyone else a merchant's data does not exist (KindNotFound). A
// suspended merchant, or a suspended caller, changes nothing (KindForbidden) but
// still reads: a suspension stops changes, not the view of one's own records.
//
// # Order data
//
// Order data arrives as a batch, CSV or JSON lines (IngestBatch), or as a live
// stream of JSON lines (IngestStream). A CSV batch starts with a header row naming
// its columns, in any order; a column not named below is refused, and so is a
// header without the required ones. A JSON line is one object with the same names
// as fields; a field not named below is refused. Absent, empty and null mean the
// same: not given.
//
//	field                 required  form
//	order_id              yes       the platform's order id, 1–128 characters; a JSON number is taken by its digits
//	shop                  yes       the shop: its exchange id (shp_…), its id on its platform when that is
//	                                unique among the merchant's shops, or platform:id (taobao:12345)
//	ordered_at            yes       RFC 3339 with its zone: 2026-11-20T14:03:00+08:00; not in the future
//	amount                one of    the order's amount in major units as a decimal: "12.30"; at most the
//	amount_minor          the two   currency's minor digits ("12.345" CNY is refused); or, in amount_minor,
//	                                a whole number of minor units: 1230. Not negative, at most 10^15 minor units
//	currency              yes       ISO 4217 code of a currency in use: CNY, USD, JPY …
//	status                yes       paid, shipped, delivered, returned, refunded or cancelled
//	refund_amount         no        refunded so far, as amount (or refund_amount_minor); not more than the
//	refund_amount_minor             amount; a refunded order without one is refunded in full
//	complaint             no        true or false (1/0, yes/no): the buyer complained
//	rating                no        the buyer's rating, a whole number from 1 to 5
//	logistics             no        events with their times: a JSON array [{"event":"shipped","at":"…"}, …]
//	                                (in CSV, the array as the cell's text) or the short form
//	                                shipped@2026-11-20T18:00:00+08:00;delivered@2026-11-22T10:00:00+08:00.
//	                                Event names are lower-case words (shipped, in_transit, delivered …);
//	                                no event before the order or in the future, delivered not before shipped
//	expected_settlement   no        the day the platform is to pay the merchant for the order — the
//	                                receivable: YYYY-MM-DD in China Standard Time, not before the order's day
//	settled_at            no        RFC 3339: when the platform paid; the receivable is then settled
//	updated_at            no        RFC 3339: the platform's time of this version of the order
//
// In JSON, amounts may also be written as numbers (12.30): they are read by their
// digits, never as floating point. Of the logistics events the exchange keeps the
// first shipped and the first delivered time; the attested batch keeps the rest.
//
// Bad rows do not spoil a batch: a row with a wrong field is rejected and listed
// in the report with its line (the line it starts on; a CSV header is line 1),
// the field and the reason, and the batch's other rows are kept. The report lists
// the first 1,000 problems and counts every rejected row. What fails a batch as a
// whole, leaving nothing of it: an unreadable header, no rows, more than
// Options.MaxBatchOrders rows or Options.MaxBatchBytes bytes, a CSV record over
// 64 KiB, and a batch that breaks off before its end (the reader fails, or the
// request is cancelled). A JSON line over 64 KiB is one rejected row.
//
// # Atomicity and the attestation
//
// A batch is read to its end — hashed with SHA-256 as its bytes arrive, each row
// checked and the valid ones spooled (in memory, then a temporary file: bounded
// memory for any size) — before anything is written. Then one write transaction
// checks the caller again, writes the orders, adds their changes to the daily
// aggregates, records the batch and files its attestation, a filing of type
// finance.batch_attested whose payload carries the merchant, the batch id, the
// SHA-256 and size of exactly the bytes received, the counts below and the time
// range of the valid orders. All of it commits, or none of it: no reader sees half
// a batch, and a batch that failed leaves no order, no aggregate change, no batch
// record and no filing. One transaction per batch also means a batch holds the
// exchange's writer while it is applied, hence the row limit.
//
// Sending the same batch again changes no order and no aggregate, but is attested
// again: the log records every batch the merchant sent, and the two filings carry
// the same SHA-256. A batch none of whose rows is valid is attested too, with its
// counts: the merchant sent it.
//
// # Orders sent again: duplicates, updates, stale rows
//
// An order is identified by its shop and order_id. A row for an order already
// stored is
//
//   - a duplicate when it carries the same data (what the exchange keeps of it):
//     nothing changes;
//   - an update when it carries other data and is newer: when both the stored
//     order and the row have updated_at, the row is newer when its updated_at is
//     not earlier; otherwise when its status is not earlier in the order's life
//     (paid, then shipped, then delivered, then returned, refunded or cancelled).
//     The stored order is replaced and the aggregates move with it — an order
//     that is returned stops counting as a sale that was kept, and counts as a
//     return on the day it was placed;
//   - stale otherwise (a delivered order sent again as paid, from an older
//     export): it is ignored.
//
// The report counts the valid rows (accepted) as inserted, updated, duplicates and
// stale, and the rest as rejected. Within a batch, a later row for the same order
// is decided against the earlier one.
//
// # The live stream
//
// A stream is JSON lines read as they arrive, for as long as the connection
// stays open; blank lines keep it alive. Lines are applied in chunks, each like a
// small batch in one transaction with its attestation (finance.stream_attested): a
// chunk closes after Options.StreamChunkOrders lines (1,000) or
// Options.StreamChunkDelay (200 ms) after its first line, whichever comes first,
// and when the stream ends — so an order counts in the features within about
// 200 ms, and a stream files at most one attestation per 200 ms or per 1,000
// lines. A chunk's
// filing carries the SHA-256 of the chunk's bytes, its number in the stream, and
// the SHA-256 of all the stream's bytes from its start through the chunk; the
// chunks' bytes, in order, are the stream. When the connection breaks, the lines
// after the last applied chunk are dropped and are to be sent again.
//
// # Apply hooks
//
// Other capabilities act on order data as it arrives — a lender takes T+0
// repayments from the receivables the platforms just settled — by registering a
// function with OnApplied at wiring time. Every apply, each batch and each stream
// chunk, calls the functions inside its own transaction, after its orders, sums,
// batch record, attestation and live limit are written, with what it changed
// (Applied): the merchant, the batch id, kind (batch or stream), the filing seq
// of its attestation, the transaction's time, and per currency, in minor units:
//
//	sales                 orders that became counted (inserted not cancelled, or moved out of
//	                      cancelled by a newer version), and their amount
//	refunds               counted orders whose refund amount grew or that became refunded, and
//	                      the refund amount they added
//	cancelled             orders that became cancelled, and the sales they withdrew (the amount of
//	                      those that counted before)
//	settled               receivables newly settled: orders stored before without settled_at that
//	                      now have it, not cancelled, and Σ (amount − refund amount) paid for them
//	settled_on_arrival    orders new to the exchange that arrived settled, and what was paid for
//	                      them: a batch of history arrives mostly settled, so these are kept apart
//
// Each row is decided against the order as it stood just before it: an order
// inserted and cancelled within one batch is a sale and a cancellation.
// Duplicates and stale rows count nowhere. A function that fails rolls back the
// whole apply — no order, sum, batch, attestation, live limit or anything the
// other functions wrote — and the batch (or the stream, at that chunk) fails
// with its error.
//
// # Live ad-spend limits (投流貸)
//
// A live-stream seller borrows for its ad spend against the orders its live room
// is taking now. The exchange operator gives such a merchant a live-limit policy
// (SetLiveLimitPolicy, filed as finance.live_limit_policy_set): the currency (CNY
// by default), floor and cap, a multiplier, the sales window W (600 s by default)
// and the recent window S (60 s) at its end, a refund penalty, a drop tolerance,
// how fast the limit may rise, and the step it moves in. Only the operator sets
// it: the limit is a risk parameter of the exchange and the institutions that
// lend on it, not the merchant's to choose.
//
// From then on every apply of the merchant's data adds its live flow to 10-second
// buckets by arrival time — the exchange's clock when the apply ran, not the
// orders' ordered_at — in the policy's currency: live sales (orders that became
// sales, placed within W before they arrived: history sent late is no live
// selling) and live refunds (refunds, and cancellations of counted orders for
// what was not refunded of them yet, that happened within W before they arrived:
// by the row's updated_at when it has one; a stored order that changed since it
// was last seen is taken as changing now; a new order by its ordered_at). Buckets
// that left the window are deleted whenever the limit is stored.
//
// The limit is then recomputed in the same transaction, after the attestation: a
// limit that changes is stored and filed (finance.live_limit_changed) with the
// previous and new limit, the reason, and the inputs below; its data_through is
// the attestation of the very chunk that changed it. A line of a live stream so
// counts within the stream's chunk delay (200 ms) and the apply's commit. A read
// (LiveLimit, LiveLimitIn) recomputes the limit as of now, so the windows slide
// without new data: when orders stop, the limit falls to the floor. Sweep, run
// by the server every second, files what sliding changed.
//
// With the current 10-second bucket partly elapsed (e seconds), the window covers
// D_W = W − 10 + e seconds and the recent window D_S = S − 10 + e. Paces are
// measured from the window's first sale, so that a stream that began three
// minutes ago is held against its own minutes, not against a silent window: D_A
// is the time since the start of the first bucket with a sale (at least D_S), D_P
// the part of it before the recent window. "Previous" is the window before the
// recent window. Over the window, in minor units:
//
//	net            max(0, paid − refunded) × W / D_W          (scaled to the whole window)
//	base           multiplier × net
//	ceiling        min(base, cap); when above the last change's ceiling, at most that + rise
//	pace ratio     p = (recent paid / D_S) / (previous paid / D_P); none when previous paid = 0
//	drop factor    d = 1 when there is no p or p ≥ 1 − tolerance, else p / (1 − tolerance)
//	recent rate    recent refunded / max(recent paid, paid × D_S / D_A), at most 1 (1 when the
//	               window sold nothing): the window's average pace stands in when the recent
//	               window sold less, so that a lull does not make a few refunds look like many
//	previous rate  previous refunded / previous paid (0 when previous paid = 0)
//	refund spike   r = max(0, recent rate − previous rate)
//	refund factor  f = max(0, 1 − penalty × r)
//	formula        ceiling × d × f
//	target         the formula held between floor and cap, rounded down to floor + k × step
//	               (the cap itself is on the grid)
//	limit          the target; when above the last limit, at most the last limit + rise; when
//	               the refund or drop factor fell since the last recomputation, at most the
//	               last limit × (new / last) of each that fell, on the grid
//	rise           cap × rise_per_minute × min(time since the last change, S) / 60 s
//
// so a drop in paid orders (the recent window's pace below the pace before it by
// more than the tolerance) and a spike in refunds (the recent refund rate above
// the rate before it) lower the limit at once, even while sales are still
// lifting its ceiling: in the apply that shows them, or,
// when orders simply stop, as of the next read (and the sweep's filing). A
// steady refund rate is no spike, as net sales count it already.
// The limit rises only gradually, by the rise per minute: orders pumped up for a
// few minutes and refunded afterwards must not lend the cap at once, and after a
// drop or a spike has passed the limit comes back at the same pace. Time counts
// towards a rise up to S only, so a limit that sat still for an hour has not
// earned an hour's rise. The last recomputation is the last that stored
// anything: an apply keeps the factors it found even when the limit stands (a
// read or a sweep that changes nothing stores nothing). A change is named for
// what moved: orders_rising when the limit rose; when it fell, refund_spike or
// order_drop for whichever of the refund and drop factors fell more, relatively,
// since the last recomputation, else sales_fell (older sales left the window);
// policy_set when the operator set the policy.
// All money arithmetic is on integers (ratios in parts per million, products
// with 128-bit intermediates); the ratios shown are those integers / 10^6.
//
// The merchant itself, the operator and regulators see the limit (LiveLimit) and
// its changes (LiveLimitHistory); a merchant without a policy has none (no flow is
// recorded for it). LiveLimitIn gives the limit as of a transaction's time to the
// lending capability; inside an OnApplied function it is the limit the apply just
// computed.
//
// # Features
//
// Every apply adds its orders' changes to daily sums per shop, day and currency,
// the day being the day the order was placed in China Standard Time; features are
// computed from these sums, for each shop and for the merchant (the sums of all
// its shops). A window of N days (7, 30 and 90) is the N days up to and including
// the day of as_of; the previous window is the N days before it. Features use the
// orders as they stand now — an order returned later counts as returned in
// whichever window it was placed — so recent windows show fewer returns than they
// will. Ratios with a zero denominator are null.
//
// Over the window, with orders the orders placed and not cancelled (a cancelled
// order counts as cancelled and in nothing else):
//
//	orders            count of orders placed, not cancelled
//	cancel_rate       cancelled / (orders + cancelled)
//	order_growth      (orders − previous_orders) / previous_orders
//	order_cv          σ / μ of the daily order counts x_1 … x_N, every day of the window counted,
//	                  days without orders as 0: μ = Σx_i / N, σ = √(Σ(x_i − μ)² / N)
//	                  (population standard deviation); null when μ = 0. Lower is steadier.
//	return_rate       orders with status returned / orders
//	refund_rate       orders with a refund (refund amount > 0, or status refunded) / orders
//	complaint_rate    orders with complaint = true / orders
//	average_rating    Σ rating / number of rated orders
//	timeliness        orders first shipped within 48 hours of ordered_at / orders with a shipped event
//
// and per currency, in minor units:
//
//	amount            sales: Σ amount of the orders placed, not cancelled
//	growth            (amount − previous) / previous, previous being the sales of the previous window
//	cv                σ / μ of the daily sales, as order_cv
//	refunded          Σ refund amount of those orders; net = amount − refunded
//	concentration     Herfindahl index of the shops' shares of sales: Σ_s (sales_s / sales)²;
//	                  1 when one shop makes all sales, 1/k for k equal shops (a shop's own is 1)
//	top_shop_share    max_s sales_s / sales
//
// Receivables due in the next 7 to 21 days, per currency: Σ (amount − refund
// amount) over the orders with status paid, shipped or delivered, not settled
// (no settled_at), whose expected_settlement is from 7 to 21 days after as_of's
// day, both included; with the number of those orders that still have something
// owed (amount > refund amount).
//
// Each feature set names the data it rests on: data_through is the filing of the
// merchant's latest attested batch or chunk, so a score computed from the set can
// cite exactly which attested batches it used.
package finance
