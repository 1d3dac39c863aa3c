import { Controller, Get, Redirect } from '@nestjs/common';

@Controller()
export class DashboardController {
  /** Relative URLs in the page resolve against /dashboard/, so the bare path redirects there. */
  @Get('dashboard')
  @Redirect('/dashboard/', 302)
  root(): void {}
}
