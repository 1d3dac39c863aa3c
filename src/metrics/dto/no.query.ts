/** The query of an endpoint that takes none: any key is refused. */
export class NoQuery {}
