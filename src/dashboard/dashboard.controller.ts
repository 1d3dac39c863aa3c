import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Controller, Get, Header, Redirect } from '@nestjs/common';
import { PublicRoute } from '../core/route.decorator';
import { DASHBOARD_PUBLIC_DIR } from './dashboard.paths';

@Controller()
export class DashboardController {
  private readonly favicon = readFileSync(join(DASHBOARD_PUBLIC_DIR, 'favicon.ico'));

  /** The gateway's root has no page of its own: it points to the dashboard. */
  @Get()
  @PublicRoute()
  @Redirect('/dashboard/', 302)
  home(): void {}

  /** Relative URLs in the page resolve against /dashboard/, so the bare path redirects there. */
  @Get('dashboard')
  @PublicRoute()
  @Redirect('/dashboard/', 302)
  root(): void {}

  /** Browsers ask the origin's root for it, whatever page they show. */
  @Get('favicon.ico')
  @PublicRoute()
  @Header('content-type', 'image/x-icon')
  @Header('cache-control', 'public, max-age=86400')
  icon(): Buffer {
    return this.favicon;
  }
}
