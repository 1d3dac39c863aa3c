// autocannon ships no type declarations and @types/autocannon is not installed: use it untyped.
declare module 'autocannon';
