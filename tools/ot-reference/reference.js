#!/usr/bin/env node
// The reference side of the differential OT test (server/src/test/.../ot/ReferenceDifferentialTest.java).
// Reads one JSON object {"cases": [...]} on stdin and prints {"results": [...]} on stdout, one result per case.
//
// A text case is {"doc": "...", "a": [op, ...], "b": [op, ...]}: two lists of ot-text-unicode ops (components:
// a number retains, a string inserts, {"d": n} deletes) made concurrently on "doc", "a" on the left (it wins ties).
// The result holds the document each order reaches with ot-text-unicode's own transform:
//   "composed":   a and b each composed into one op first, then transformed past each other;
//   "sequential": each op of one list transformed past each op of the other, in order (the server's grid).
// For each: {"ab": doc after a then b', "ba": doc after b then a'}.
//
// A json1 case is {"type": "json1", "doc": {...}, "a": [edit, ...], "b": [edit, ...]} with deltasync edits in proto3
// JSON (text and array kinds); each list is converted to ot-json1 and composed, and the result is {"ab": ...,
// "ba": ...}. Any case the reference refuses comes back as {"error": "..."}.
'use strict';
const text = require('ot-text-unicode').type;
const json1lib = require('ot-json1');
const json1 = json1lib.type;

function composeAll(type, ops, empty) {
  return ops.reduce((acc, op) => type.compose(acc, type.normalize ? type.normalize(op) : op), empty);
}

// Each op of 'ops' meets each op of 'against' once, in order; returns [ops after against, against after ops].
function transformGrid(type, ops, against, side) {
  const other = side === 'left' ? 'right' : 'left';
  let current = ops.map((op) => type.normalize(op));
  const againstOut = [];
  for (const b0 of against) {
    let b = type.normalize(b0);
    const next = [];
    for (const a of current) {
      next.push(type.transform(a, b, side));
      b = type.transform(b, a, other);
    }
    againstOut.push(b);
    current = next;
  }
  return [current, againstOut];
}

function applyAll(type, doc, ops) {
  return ops.reduce((d, op) => type.apply(d, op), doc);
}

function textCase(c) {
  // Clients may send a trailing retain or split components; ot-text-unicode checks for its normal form, and the
  // server normalizes too.
  c = {doc: c.doc, a: c.a.map(text.normalize), b: c.b.map(text.normalize)};
  const a = composeAll(text, c.a, []);
  const b = composeAll(text, c.b, []);
  const composed = {
    ab: text.apply(text.apply(c.doc, a), text.transform(b, a, 'right')),
    ba: text.apply(text.apply(c.doc, b), text.transform(a, b, 'left')),
  };
  const [aAfterB, bAfterA] = transformGrid(text, c.a, c.b, 'left');
  const sequential = {
    ab: applyAll(text, applyAll(text, c.doc, c.a), bAfterA),
    ba: applyAll(text, applyAll(text, c.doc, c.b), aAfterB),
  };
  return {composed, sequential};
}

// One deltasync edit (proto3 JSON, as docs/operational-transform.md shows them) as an ot-json1 op. Array and
// text edits only: object edits need the document to choose between insert and replace.
function toJson1(edit) {
  const path = (edit.path || []).map((step) => (step.key !== undefined ? step.key : (step.index || 0)));
  if (edit.text) {
    const components = edit.text.components.map((c) => (c.retain !== undefined ? c.retain
      : c.insert !== undefined ? c.insert : {d: c.delete}));
    return json1lib.editOp(path, 'text-unicode', text.normalize(components));
  }
  if (edit.arrayMove) {
    const m = edit.arrayMove;
    return json1lib.moveOp([...path, m.fromIndex || 0], [...path, m.toIndex || 0]);
  }
  if (edit.arrayInsert) {
    const at = edit.arrayInsert.index || 0;
    return edit.arrayInsert.values.reduce((op, value, i) => json1.compose(op,
      json1lib.insertOp([...path, at + i], value)), null);
  }
  if (edit.arrayRemove) {
    const r = edit.arrayRemove;
    let op = null;
    for (let i = 0; i < r.count; i++) op = json1.compose(op, json1lib.removeOp([...path, r.index || 0]));
    return op;
  }
  throw Error('no ot-json1 form for ' + JSON.stringify(edit));
}

function json1Case(c) {
  const a = composeAll(json1, c.a.map(toJson1), null);
  const b = composeAll(json1, c.b.map(toJson1), null);
  return {
    ab: json1.apply(json1.apply(c.doc, a), json1.transform(b, a, 'right')),
    ba: json1.apply(json1.apply(c.doc, b), json1.transform(a, b, 'left')),
  };
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const {cases} = JSON.parse(input);
  const results = cases.map((c) => {
    try {
      return c.type === 'json1' ? json1Case(c) : textCase(c);
    } catch (e) {
      return {error: String(e && e.message || e)};
    }
  });
  process.stdout.write(JSON.stringify({results}));
});
