// DOM helpers shared by the dashboard's panels.
import * as fmt from './format.js';

export const $ = (selector) => document.querySelector(selector);

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A provider badge, its hue stable per name. */
export function badge(name) {
  const label = name || 'unknown';
  const node = el('span', 'badge', label);
  node.title = label;
  node.style.setProperty('--hue', String(fmt.hueOf(label)));
  return node;
}

export function cssVar(name) {
  return window.getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}
