import { Controller, Get } from '@nestjs/common';
import { TailerService } from './tailer.service.js';

/** `GET /storage/tail`: every followed file with its saved offset and its lag in bytes and seconds. */
@Controller('storage')
export class TailerController {
  constructor(private readonly tailer: TailerService) {}

  @Get('tail')
  status() {
    return this.tailer.status();
  }
}
