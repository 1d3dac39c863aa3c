import { Controller, Get, Redirect } from '@nestjs/common';
import { PublicRoute } from '../core/route.decorator';

@Controller()
export class DashboardController {
  /** Relative URLs in the page resolve against /dashboard/, so the bare path redirects there. */
  @Get('dashboard')
  @PublicRoute()
  @Redirect('/dashboard/', 302)
  root(): void {}
}
