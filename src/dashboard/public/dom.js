// @ts-check
// DOM helpers shared by the dashboard's panels.
import * as fmt from './format.js';

/**
 * The page's element for `selector`, of the class `type` (HTMLElement unless told). The markup
 * (index.html) has every element the scripts look up: a miss is a bug, and throws saying which.
 * @template {Element} [T=HTMLElement]
 * @param {string} selector
 * @param {new () => T} [type]
 * @returns {NoInfer<T>} (never inferred from where the result goes: only `type` narrows it)
 */
export function $(selector, type) {
  const node = document.querySelector(selector);
  const expected = type ?? HTMLElement;
  if (!(node instanceof expected)) throw new Error(`dashboard: no ${expected.name} matches ${selector}`);
  return /** @type {T} */ (node);
}

/**
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {string} [className]
 * @param {string} [text]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * A provider badge, its hue stable per name.
 * @param {string | null | undefined} name
 */
export function badge(name) {
  const label = name || 'unknown';
  const node = el('span', 'badge', label);
  node.title = label;
  node.style.setProperty('--hue', String(fmt.hueOf(label)));
  return node;
}

/** @param {string} name a custom property of the page's root, such as '--accent' */
export function cssVar(name) {
  return window.getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/**
 * Chart.js: its UMD build (vendor/chart.umd.js, a classic script) sets window.Chart; undefined
 * when it did not load, and the page then shows its figures without charts.
 * @returns {typeof import('chart.js').Chart | undefined}
 */
export function chartJs() {
  return /** @type {Window & { Chart?: typeof import('chart.js').Chart }} */ (window).Chart;
}
