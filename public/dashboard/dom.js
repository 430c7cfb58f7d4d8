// Small DOM builders for the dashboard. Text goes in as text nodes and
// values as properties: nothing is ever parsed as HTML.
/* global document */
import { count } from './format.js'

/** h('td', { className: 'num' }, 'text', childNode, …) */
export function h(tag, props, ...children) {
  const node = document.createElement(tag)
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null) continue
      if (k === 'data') for (const [dk, dv] of Object.entries(v)) node.dataset[dk] = String(dv)
      else node[k] = v
    }
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue
    node.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c)
  }
  return node
}

export const muted = (text) => h('p', { className: 'muted' }, text)
export const failure = (text) => h('p', { className: 'error' }, text)
export const plural = (n, one, many) => `${count(n)} ${n === 1 ? one : many}`

export function table(headings, rows, className) {
  return h(
    'table',
    { className },
    h('thead', null, h('tr', null, headings.map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', null, rows),
  )
}

export function bar(value, max, label) {
  const safeMax = max > 0 ? max : 1
  return h(
    'div',
    { className: 'bar' },
    h('progress', { max: safeMax, value: max > 0 ? Math.min(value, max) : 1, title: label }),
    h('span', { className: 'bar-label' }, label),
  )
}

export function body(id) {
  return document.querySelector(`#${id} > .body`)
}
