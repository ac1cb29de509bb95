// A representative flow through stripe-node against AMCI's test mode (run by
// tests/testmode/test_node_sdk.py with STRIPE_HOST, STRIPE_PORT). Prints one line per step;
// exits non-zero at the first step whose result differs from what Stripe does.
'use strict';
const assert = require('node:assert/strict');
const Stripe = require('stripe');

const stripe = new Stripe('sk_test_' + require('node:crypto').randomBytes(12).toString('hex'), {
  host: process.env.STRIPE_HOST,
  port: Number(process.env.STRIPE_PORT),
  protocol: 'http',
  maxNetworkRetries: 0,
  telemetry: false,
});

const steps = [];
function step(name, fn) {
  steps.push([name, fn]);
}

step('create and confirm, manual capture', async (s) => {
  s.customer = await stripe.customers.create({email: 'node@example.com', name: 'Node Client'});
  const pi = await stripe.paymentIntents.create({
    amount: 2500, currency: 'eur', customer: s.customer.id, capture_method: 'manual',
    payment_method: 'pm_card_visa', metadata: {order: 'n-1'},
  });
  assert.equal(pi.status, 'requires_confirmation');
  const confirmed = await stripe.paymentIntents.confirm(pi.id);
  assert.equal(confirmed.status, 'requires_capture');
  assert.equal(confirmed.amount_capturable, 2500);
  s.pi = confirmed;
});

step('partial capture', async (s) => {
  const captured = await stripe.paymentIntents.capture(s.pi.id, {amount_to_capture: 2000});
  assert.equal(captured.status, 'succeeded');
  assert.equal(captured.amount_received, 2000);
  const charge = await stripe.charges.retrieve(captured.latest_charge);
  assert.equal(charge.captured, true);
  assert.equal(charge.amount_captured, 2000);
  assert.equal(charge.payment_method_details.card.last4, '4242');
  assert.equal(charge.receipt_number, null);
  s.charge = charge;
});

step('refund', async (s) => {
  const refund = await stripe.refunds.create({payment_intent: s.pi.id, amount: 500});
  assert.equal(refund.status, 'succeeded');
  assert.equal(refund.amount, 500);
  assert.equal(refund.charge, s.charge.id);
  const charge = await stripe.charges.retrieve(s.charge.id);
  assert.equal(charge.amount_refunded, 500);
  assert.equal(charge.refunded, false);
  await assert.rejects(stripe.refunds.create({charge: s.charge.id, amount: 1600}), (err) => {
    assert.equal(err.type, 'StripeInvalidRequestError');
    assert.equal(err.param, 'amount');
    return true;
  });
});

step('decline', async () => {
  await assert.rejects(
    stripe.paymentIntents.create({
      amount: 1000, currency: 'usd', payment_method: 'pm_card_chargeDeclined', confirm: true,
    }),
    (err) => {
      assert.equal(err.type, 'StripeCardError');
      assert.equal(err.statusCode, 402);
      assert.equal(err.code, 'card_declined');
      assert.equal(err.decline_code, 'generic_decline');
      assert.equal(err.payment_intent.status, 'requires_payment_method');
      return true;
    });
});

step('3D Secure without return_url: use_stripe_sdk', async () => {
  const pi = await stripe.paymentIntents.create({
    amount: 1200, currency: 'eur', payment_method: 'pm_card_authenticationRequired',
    confirm: true,
  });
  assert.equal(pi.status, 'requires_action');
  assert.equal(pi.next_action.type, 'use_stripe_sdk');
  const canceled = await stripe.paymentIntents.cancel(pi.id);
  assert.equal(canceled.status, 'canceled');
});

// The test authentication page: GET the redirect URL, submit one of its two plain forms.
async function authenticate(url, result) {
  const page = await fetch(url);
  assert.equal(page.status, 200);
  const html = await page.text();
  assert.match(html, new RegExp(`<form method="post" action=""><input type="hidden" name="result" value="${result}">`));
  return fetch(url, {
    method: 'POST', redirect: 'manual', body: new URLSearchParams({result}),
    headers: {'Content-Type': 'application/x-www-form-urlencoded'},
  });
}

step('3D Secure with return_url: complete on the page', async (s) => {
  const returnUrl = 'https://shop.example/return?order=n-3';
  const pi = await stripe.paymentIntents.create({
    amount: 1800, currency: 'eur', customer: s.customer.id,
    payment_method: 'pm_card_authenticationRequired', confirm: true, return_url: returnUrl,
  });
  assert.equal(pi.status, 'requires_action');
  assert.equal(pi.next_action.type, 'redirect_to_url');
  assert.equal(pi.next_action.redirect_to_url.return_url, returnUrl);
  const url = pi.next_action.redirect_to_url.url;
  assert.ok(url.startsWith(`http://127.0.0.1:${process.env.STRIPE_PORT}/`), url);
  const done = await authenticate(url, 'complete');
  assert.equal(done.status, 303);
  const back = new URL(done.headers.get('location'));
  assert.equal(back.origin + back.pathname, 'https://shop.example/return');
  assert.equal(back.searchParams.get('order'), 'n-3');
  assert.equal(back.searchParams.get('payment_intent'), pi.id);
  assert.equal(back.searchParams.get('payment_intent_client_secret'), pi.client_secret);
  assert.equal(back.searchParams.get('redirect_status'), 'succeeded');
  const after = await stripe.paymentIntents.retrieve(pi.id);
  assert.equal(after.status, 'succeeded');
  assert.equal(after.next_action, null);
});

step('3D Secure with return_url: fail on the page', async () => {
  const pi = await stripe.paymentIntents.create({
    amount: 900, currency: 'eur', payment_method: 'pm_card_threeDSecure2Required',
    confirm: true, return_url: 'https://shop.example/return',
  });
  const done = await authenticate(pi.next_action.redirect_to_url.url, 'fail');
  assert.equal(done.status, 303);
  assert.equal(new URL(done.headers.get('location')).searchParams.get('redirect_status'),
               'failed');
  const after = await stripe.paymentIntents.retrieve(pi.id);
  assert.equal(after.status, 'requires_payment_method');
  assert.equal(after.last_payment_error.code, 'payment_intent_authentication_failure');
});

step('wrong parameter type refused', async () => {
  await assert.rejects(stripe.paymentIntents.create({amount: 'ten', currency: 'usd'}), (err) => {
    assert.equal(err.type, 'StripeInvalidRequestError');
    assert.equal(err.code, 'parameter_invalid_integer');
    assert.equal(err.param, 'amount');
    return true;
  });
});

step('idempotent retry', async () => {
  const key = 'node-' + Date.now();
  const a = await stripe.customers.create({email: 'same@example.com'}, {idempotencyKey: key});
  const b = await stripe.customers.create({email: 'same@example.com'}, {idempotencyKey: key});
  assert.equal(a.id, b.id);
  assert.equal(b.lastResponse.headers['idempotent-replayed'], 'true');
});

step('list pagination', async () => {
  const made = [];
  for (let i = 0; i < 5; i++) {
    made.push((await stripe.customers.create({email: `page${i}@example.com`})).id);
  }
  const first = await stripe.customers.list({limit: 2});
  assert.equal(first.data.length, 2);
  assert.equal(first.has_more, true);
  const all = await stripe.customers.list({limit: 2}).autoPagingToArray({limit: 100});
  const ids = all.map((c) => c.id);
  assert.deepEqual(ids.slice(0, 5), made.slice().reverse());
  assert.equal(new Set(ids).size, ids.length);
  assert.equal(ids.length, 7); // 5 here, 'node@', and the idempotent pair's one
});

step('search pagination', async () => {
  const found = await stripe.customers
    .search({query: 'email~"page"', limit: 2})
    .autoPagingToArray({limit: 100});
  assert.equal(found.length, 5);
  const page = await stripe.customers.search({query: 'email~"page"', limit: 2});
  assert.equal(page.object, 'search_result');
  assert.equal(page.has_more, true);
  assert.ok(page.next_page);
  await assert.rejects(stripe.customers.search({query: 'colour:"red"'}), (err) => {
    assert.equal(err.param, 'query');
    return true;
  });
});

(async () => {
  const state = {};
  for (const [name, fn] of steps) {
    try {
      await fn(state);
    } catch (err) {
      console.log(`FAIL ${name}: ${err && err.stack ? err.stack : err}`);
      process.exit(1);
    }
    console.log(`ok ${name}`);
  }
  console.log(`done ${steps.length}`);
})();
